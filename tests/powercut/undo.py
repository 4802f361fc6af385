"""Build the power-cut shim and apply its undo log: each file goes back to what its last sync made durable."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

SHIM_SOURCE = Path(__file__).with_name("shim.c")


def build_shim(out_dir: Path) -> Path:
    """Compile shim.c into a shared library (gcc is a test dependency: scripts/test installs it)."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise RuntimeError("the power-cut test needs a C compiler (apt-get install gcc libc6-dev)")
    lib = out_dir / "powercut_shim.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(lib), str(SHIM_SOURCE), "-ldl", "-lpthread"],
                   check=True, capture_output=True)
    return lib


def read_log(log: Path) -> list[tuple[str, str, int, int, bytes]]:
    """The records in order: (kind, path, offset, old_size, old_bytes); sync records carry no data."""
    data = log.read_bytes() if log.exists() else b""
    records, i = [], 0
    try:
        while i < len(data):
            kind = chr(data[i])
            (plen,) = struct.unpack_from("<I", data, i + 1)
            path = data[i + 5:i + 5 + plen].decode()
            i += 5 + plen
            if kind == "S":
                records.append(("S", path, 0, 0, b""))
                continue
            offset, old_size, count = struct.unpack_from("<qqI", data, i)
            i += 20
            if i + count > len(data):
                raise struct.error("torn record")
            records.append(("W", path, offset, old_size, data[i:i + count]))
            i += count
    except struct.error:
        pass  # the kill landed while a record was being logged: its write had not happened yet
    return records


def cut_power(log: Path) -> dict[str, int]:
    """Undo every write made after each file's last sync, newest first. Returns writes undone per file."""
    pending: dict[str, list[tuple[int, int, bytes]]] = {}
    for kind, path, offset, old_size, old in read_log(log):
        if kind == "S":
            pending[path] = []
        else:
            pending.setdefault(path, []).append((offset, old_size, old))
    undone = {}
    for path, writes in pending.items():
        if not writes or not os.path.exists(path):
            continue
        with open(path, "r+b") as f:
            for offset, old_size, old in reversed(writes):
                f.seek(offset)
                f.write(old)
                f.truncate(old_size)
        undone[path] = len(writes)
    log.unlink(missing_ok=True)
    return undone
