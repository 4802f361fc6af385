"""The shipped system files say what the appliance needs: systemd checks the units, the rest is read back."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

FW = Path(__file__).resolve().parent.parent / "firmware_config"
UNITS = sorted((FW / "systemd").glob("*.service"))


def unit(name: str) -> configparser.ConfigParser:
    """A unit file read as INI (repeated keys such as Environment= keep their last value)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(FW / "systemd" / name)
    return parser


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_systemd_accepts_every_directive(path: Path) -> None:
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=60)
    # The programs live on the Pi (/usr/bin/xinit, /opt/truck_pos/venv); anything else is a real problem.
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line and "is not executable" not in line]
    assert not problems


@pytest.mark.parametrize("name", ["truck-pos.service", "truck-pos-sync.service"])
def test_units_restart_with_a_limit_after_network_and_bluetooth(name: str) -> None:
    u = unit(name)
    assert u["Service"]["Restart"] == "on-failure"
    assert int(u["Unit"]["StartLimitBurst"]) > 0 and int(u["Unit"]["StartLimitIntervalSec"]) > 0
    assert {"network-online.target", "bluetooth.target"} <= set(u["Unit"]["After"].split())
    assert "network-online.target" in u["Unit"]["Wants"].split()
    assert u["Service"]["User"] == "truckpos"
    text = (FW / "systemd" / name).read_text()
    assert "Environment=TRUCK_POS_CONFIG=/etc/truck_pos/truck.ini" in text
    assert u["Install"]["WantedBy"] == "multi-user.target"


def test_register_keeps_device_access_under_its_hardening() -> None:
    service = unit("truck-pos.service")["Service"]
    assert {"dialout", "lp", "bluetooth", "video", "input"} <= set(service["SupplementaryGroups"].split())
    for hides_devices in ("PrivateDevices", "DevicePolicy", "RestrictAddressFamilies", "NoNewPrivileges"):
        assert hides_devices not in service
    assert service["ExecStart"].startswith("/usr/bin/xinit /opt/truck_pos/libexec/kiosk-session --")
    assert "-dpms" in service["ExecStart"] and "-s 0" in service["ExecStart"]
    session = (FW / "boot" / "kiosk-session").read_text()
    assert "exec /opt/truck_pos/venv/bin/truck-pos --fullscreen" in session and "xset s off -dpms" in session


def test_sync_agent_is_sandboxed_tightly() -> None:
    service = unit("truck-pos-sync.service")["Service"]
    assert service["ExecStart"] == "/opt/truck_pos/venv/bin/truck-pos-sync"
    assert service["PrivateDevices"] == "true" and service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict" and "/var/lib/truck_pos" in service["ReadWritePaths"]


def test_kiosk_session_is_valid_shell() -> None:
    subprocess.run(["sh", "-n", str(FW / "boot" / "kiosk-session")], check=True)


def test_bluez_settings_turn_on_experimental_for_passive_scanning() -> None:
    bluez = configparser.ConfigParser(interpolation=None)
    bluez.optionxform = str
    bluez.read(FW / "bluetooth" / "main.conf")
    assert bluez["General"]["Experimental"] == "true" and bluez["Policy"]["AutoEnable"] == "true"
    assert bluez["LE"]["ScanWindowAdvMonitor"] == bluez["LE"]["ScanIntervalAdvMonitor"]


def test_journal_is_size_capped_and_boot_block_sets_up_the_touchscreen() -> None:
    journal = configparser.ConfigParser(interpolation=None)
    journal.optionxform = str
    journal.read(FW / "journald" / "truck-pos.conf")
    assert journal["Journal"]["SystemMaxUse"] == "200M"
    boot = (FW / "boot" / "config.txt").read_text().splitlines()
    assert {"dtoverlay=vc4-kms-v3d", "dtoverlay=vc4-kms-dsi-7inch"} <= set(boot)


@pytest.mark.parametrize("script", [
    "truck-pos",
    "truck-pos-sync",
])
def test_programs_the_units_start_are_console_scripts(script: str) -> None:
    started = (FW / "systemd" / "truck-pos-sync.service").read_text() + (FW / "boot" / "kiosk-session").read_text()
    assert f"/opt/truck_pos/venv/bin/{script}" in started
    setup = configparser.ConfigParser(interpolation=None)
    setup.read(FW.parent / "setup.cfg")
    declared = [line.split("=")[0].strip() for line in setup["options.entry_points"]["console_scripts"].splitlines() if line]
    assert script in declared
