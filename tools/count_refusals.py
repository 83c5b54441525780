"""Runs issue 10's bad-argument corpus (tests/trust_args_corpus.py) against a source tree, each
case in its own process and empty folder, and counts how each ended: a clear refusal (exit 2,
one line naming the bad argument, no traceback, nothing created), a traceback, a refusal for
another reason (the bad value went unnoticed), or silent acceptance (ran: exit 0, or still
working at the time limit, or killed for memory).

    python tools/count_refusals.py --src /work/main/src [--jobs 3] [--timeout 60] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from trust_args_corpus import corpus  # noqa: E402

MEMORY_LIMIT = 6 << 30  # a case that allocates more was accepted, not refused


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_case(src: str, argv: list[str], names: str, timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix="refusal.") as folder:
        Path(folder, "a_file").write_text("a file, not a folder")
        env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": folder}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "mobilenets", *argv],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                preexec_fn=_limit_memory,
            )
        except subprocess.TimeoutExpired:
            return "accepted (still running at the limit)"
        created = sorted(set(os.listdir(folder)) - {"a_file", "mobilenets"})
        lines = done.stderr.strip().splitlines()
        if "Traceback" in done.stderr:
            return "traceback"
        if done.returncode == 0 or done.returncode < 0:
            return "accepted (ran)"
        if done.returncode == 2 and len(lines) == 1 and names in lines[0] and not created:
            return "clear refusal"
        return "refused for another reason"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="the source tree to put first on PYTHONPATH")
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--json", action="store_true", help="every case's outcome as JSON")
    args = parser.parse_args()
    cases = corpus()
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(
            pool.map(lambda case: run_case(args.src, case[1], case[2], args.timeout), cases)
        )
    if args.json:
        json.dump(
            {case[0]: outcome for case, outcome in zip(cases, outcomes)}, sys.stdout, indent=1
        )
        print()
    counts = Counter(outcomes)
    print(
        f"{len(cases)} attempts: " + ", ".join(f"{counts[kind]} {kind}" for kind in sorted(counts)),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
