"""A print worker in its own OS process, on a shared truck database, printing to a file at a given clock time.

Usage: python print_worker_child.py DB_PATH OUT_FILE ISO_TIME [--until-empty]
Runs the real PrintingService (built by the composition root) once, or until no job is left; prints how
many jobs it printed. The parent decodes OUT_FILE to see which ones.
"""

from __future__ import annotations

import sys
from datetime import datetime

from truck_pos.bootstrap import build
from truck_pos.clock import FakeClock
from truck_pos.config import load_settings


def main(db_path: str, out_file: str, when: str, *flags: str) -> int:
    env = {"TRUCK_POS_STORE_PATH": db_path, "TRUCK_POS_PRINTER_KIND": "file", "TRUCK_POS_PRINTER_FILE_PATH": out_file}
    services = build(load_settings(env=env), clock=FakeClock(datetime.fromisoformat(when)), print_autostart=False)
    try:
        printed = services.printing.run_once()
        while "--until-empty" in flags and (more := services.printing.run_once()):
            printed += more
    finally:
        services.close()
    print(printed)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
