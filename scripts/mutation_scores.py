"""Per-module mutation scores from a mutmut run directory: a markdown table and the surviving mutants.

Usage: python scripts/mutation_scores.py RUN_DIR GROUP  (scripts/mutation calls it)
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

CAUGHT = {"killed", "timeout", "segfault", "caught by type check"}


def main(run_dir: str, group: str) -> int:
    os.chdir(run_dir)  # mutmut reads its [mutmut] config from the run directory's setup.cfg on import
    from mutmut.__main__ import status_by_exit_code  # the same mapping `mutmut results` prints

    mutants = Path("mutants")
    rows, survivors = [], []
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter(status_by_exit_code[c] for c in codes.values())
        judged = sum(n for status, n in counts.items() if status not in {"skipped", "not checked"})
        caught = sum(counts[s] for s in CAUGHT)
        module = str(meta.relative_to(mutants))[: -len(".meta")]
        rows.append((module, judged, caught, counts["survived"], counts["no tests"]))
        survivors += [k for k, c in codes.items() if status_by_exit_code[c] in {"survived", "no tests"}]
    if not rows:  # mutmut stops before mutating when the unmutated tests are red: say so, not "0 mutants"
        print(f"no mutants judged for {group}: the baseline run failed, see {run_dir}/run.log", file=sys.stderr)
        return 1
    print(f"\n### mutation: {group}\n")
    print("| module | mutants | killed | survived | no tests | score |")
    print("|---|---:|---:|---:|---:|---:|")
    for module, judged, caught, survived, untested in rows:
        score = f"{100 * caught / judged:.0f} %" if judged else "-"
        print(f"| `{module}` | {judged} | {caught} | {survived} | {untested} | {score} |")
    total, caught = sum(r[1] for r in rows), sum(r[2] for r in rows)
    if total:
        print(f"| **all** | {total} | {caught} | | | **{100 * caught / total:.0f} %** |")
    Path("survivors.txt").write_text("\n".join(survivors) + "\n")
    print(f"\nsurviving mutants: {run_dir}/survivors.txt (see one with `cd {run_dir} && mutmut show NAME`)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
