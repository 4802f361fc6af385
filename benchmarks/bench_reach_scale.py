"""Campaign reach at full size: the kill -9 and two-process tests with 10,000 sends on PostgreSQL.

The suite runs the same tests with 2,000 sends (its time budget); this runs them at the size the issue names
and prints what they print (sends at the kill, rows in doubt, re-sent copies).

    TRUCK_POS_TEST_PG=postgresql://postgres@127.0.0.1:5432/tp_x python benchmarks/bench_reach_scale.py [--sends 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sends", type=int, default=10_000)
    args = p.parse_args(argv)
    if not os.environ.get("TRUCK_POS_TEST_PG"):
        print("set TRUCK_POS_TEST_PG to a PostgreSQL database of your own", file=sys.stderr)
        return 2
    env = {**os.environ, "REACH_SENDS": str(args.sends)}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s", "--timeout", "1800",
                           "tests/test_reach_durability.py"], cwd=ROOT, env=env, check=False)
    print(f"{args.sends} sends per test: {'passed' if done.returncode == 0 else 'FAILED'} in {time.monotonic() - start:.0f} s")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
