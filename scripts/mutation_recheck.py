"""Re-judge the surviving mutants of a finished mutmut run against some (new) test files, without a new full run.

Usage: .venv/bin/python scripts/mutation_recheck.py RUN_DIR TEST_FILE...  then  scripts/mutation_scores.py RUN_DIR GROUP
(RUN_DIR is the scratch directory scripts/mutation printed). The test files are copied into RUN_DIR/mutants/tests, and each mutant
listed in RUN_DIR/survivors.txt is switched on the way mutmut does it (MUTANT_UNDER_TEST, read by the trampoline
at call time) while pytest runs those files in a forked child; a red run means killed. The verdicts are written
back into mutmut's .meta files (exit code 1 = killed), so `mutmut results` and mutation_scores.py count them.
A mutant whose tests run longer than MUTATION_RECHECK_TIMEOUT seconds (default 120; a mutant that loops forever)
is stopped and counted as caught, as mutmut counts its own timeouts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path


def _judge(mutant: str, tests: list[str]) -> int:
    pid = os.fork()
    if pid == 0:  # child: quiet pytest with the mutant switched on
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the alarm ends the child: a looping mutant is caught
        signal.alarm(int(os.environ.get("MUTATION_RECHECK_TIMEOUT", "120")))
        os.environ["MUTANT_UNDER_TEST"] = mutant
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        import pytest

        code = pytest.main(["-p", "no:cacheprovider", "-x", "-q", "--hypothesis-seed=0", "--hypothesis-profile=mutation", *tests])
        os._exit(int(code))
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main(run_dir: str, *test_files: str) -> int:
    mutants = Path(run_dir) / "mutants"
    names = [n for n in (Path(run_dir) / "survivors.txt").read_text().split() if n]
    targets = []
    for path in test_files:
        shutil.copy(path, mutants / "tests" / Path(path).name)
        targets.append(f"tests/{Path(path).name}")
    os.chdir(mutants)
    sys.path.insert(0, str(mutants))
    os.environ.pop("MUTANT_UNDER_TEST", None)
    import pytest  # noqa: F401 - imported once here so each forked child starts warm
    if _judge("", targets) != 0:
        print("the new tests are red on the unmutated tree; nothing re-judged", file=sys.stderr)
        return 1
    metas = {p: json.loads(p.read_text()) for p in mutants.rglob("*.py.meta")}
    killed = 0
    for name in names:
        code = _judge(name, targets)
        if code in (0, 5):  # passed, or no tests collected: still a survivor
            continue
        for path, meta in metas.items():
            if name in meta["exit_code_by_key"]:
                meta["exit_code_by_key"][name] = 1
                killed += 1
    for path, meta in metas.items():
        path.write_text(json.dumps(meta, indent=4))
    print(f"re-judged {len(names)} survivors against {', '.join(targets)}: {killed} now killed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
