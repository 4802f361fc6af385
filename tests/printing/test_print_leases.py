"""Print-job leases across OS processes: one job, one worker, while the lease holds; a dead worker's job is taken over."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from escpos_decode import decode
from truck_pos.services.printing import LEASE_S
from truck_pos.store.print_models import PrintJob

CHILD = Path(__file__).with_name("print_worker_child.py")
ROOT = CHILD.parents[2]


def worker(db: Path, out: Path, when, *flags: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), str(db), str(out), when.isoformat(), *flags],
                            cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def jobs_in(out: Path) -> list[tuple[str, str]]:
    """(kind, order number) of every complete job in a printer's output, one per cut."""
    if not out.exists():
        return []
    found, current = [], []
    d = decode(out.read_bytes())
    lines = iter(d.lines)
    for event in d.events:
        if event == "text":
            current.append(next(lines))
        elif event == "cut":
            texts = [ln.text for ln in current]
            receipt = next((t for t in texts if t.startswith("Order #")), None)
            found.append(("receipt", receipt[7:]) if receipt else ("kitchen", texts[0][1:]))
            current = []
    return found


def finish(proc: subprocess.Popen) -> int:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    return int(out.split()[-1])


def test_a_leased_job_is_left_alone_until_the_lease_expires(wired, ring_up, clock, settings, tmp_path):
    paid = ring_up("taco-fish")  # a receipt and a kitchen ticket
    held = wired.printing._claim(clock.now())  # this process's worker takes the receipt, then dies mid-print
    assert held is not None and held.kind == "receipt"
    db, number = settings.database_path, str(paid.order_number)
    outs = [tmp_path / f"other-printer-{i}.bin" for i in range(3)]  # python-escpos' File printer truncates

    assert finish(worker(db, outs[0], clock.now())) == 1  # the other process prints the kitchen ticket only
    assert jobs_in(outs[0]) == [("kitchen", number)]
    assert finish(worker(db, outs[1], clock.now() + timedelta(seconds=LEASE_S - 1))) == 0  # lease still held
    assert jobs_in(outs[1]) == []

    assert finish(worker(db, outs[2], clock.now() + timedelta(seconds=LEASE_S + 1))) == 1  # expired: taken over
    assert jobs_in(outs[2]) == [("receipt", number)]
    assert {j.status for j in PrintJob.select()} == {"printed"}


def test_two_worker_processes_racing_print_every_job_exactly_once(wired, ring_up, clock, settings, tmp_path):
    paid = [ring_up("taco-fish") for _ in range(15)]
    db = settings.database_path
    outs = [tmp_path / "a.bin", tmp_path / "b.bin"]
    procs = [worker(db, out, clock.now(), "--until-empty") for out in outs]
    counts = [finish(p) for p in procs]
    printed = jobs_in(outs[0]) + jobs_in(outs[1])
    expected = sorted((kind, str(p.order_number)) for p in paid for kind in ("receipt", "kitchen"))
    assert sum(counts) == 30 and sorted(printed) == expected  # nothing twice, nothing lost
    assert PrintJob.select().where(PrintJob.status == "printed").count() == 30
