"""Is the system clock known good? Asks systemd-timesyncd/chrony through ``timedatectl``, else ``chronyc``.

A Raspberry Pi has no real-time clock: after a boot without network its clock is wherever the last
shutdown left it (fake-hwclock) until NTP, GPS or LTE time (firmware_config/chrony) sets it. The
proximity service asks :func:`clock_synchronized` now and then: ``True`` synced, ``False`` not,
``None`` when neither tool answers (treated as not synced).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any


def clock_synchronized(run: Callable[..., Any] = subprocess.run) -> bool | None:
    """``timedatectl show -p NTPSynchronized`` (yes/no), else chrony's leap status; None if neither answers."""
    try:
        out = run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True, text=True, timeout=3)
        value = (out.stdout or "").strip().lower()
        if out.returncode == 0 and value in ("yes", "no"):
            return value == "yes"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        out = run(["chronyc", "-c", "tracking"], capture_output=True, text=True, timeout=3)
        if out.returncode == 0 and out.stdout:
            return out.stdout.strip().split(",")[-1].strip().lower() == "normal"  # leap status
    except (OSError, subprocess.SubprocessError):
        pass
    return None
