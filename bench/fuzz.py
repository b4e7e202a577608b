"""Fuzz benchmark: every document parser, the paper formats (BibTeX, arXiv snapshot) and the JSON import at
2,000 generated cases each, on both stores.

    python -m bench.fuzz            # or: python bench/fuzz.py [extra pytest args]

Runs the fuzz tests of tests/test_reliability.py and tests/test_papers_fuzz.py with
``HYPOTHESIS_PROFILE=bench`` (random, not derandomized, 2,000 examples per test) and prints, per test: cases
tried, rejected (each checked to leave the store byte-for-byte unchanged), accepted, and a total. ``--all``
also runs the concurrency and kill tests and prints their figures. Exit status is pytest's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    run_all = "--all" in argv
    extra = [a for a in argv if a != "--all"]
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.jsonl"
        env = {**os.environ, "HYPOTHESIS_PROFILE": "bench", "FINDINGS_RELIABILITY_STATS": str(stats)}
        select = [] if run_all else ["-k", "fuzz"]
        cmd = [sys.executable, "-m", "pytest", "-p", "tests.pg", "-q", "-p", "no:cacheprovider",
               "tests/test_reliability.py", "tests/test_papers_fuzz.py", *select, *extra]
        print("$", " ".join(cmd), flush=True)
        rc = subprocess.call(cmd, cwd=ROOT, env=env)
        rows = [json.loads(x) for x in stats.read_text().splitlines()] if stats.exists() else []
    fuzz = [r for r in rows if r["test"].startswith("fuzz")]
    print(f"\n{'test':<14}{'store':<12}{'format':<15}{'tried':>7}{'rejected':>10}{'accepted':>10}")
    for r in fuzz:
        print(f"{r['test']:<14}{r['backend']:<12}{r.get('fmt', '-'):<15}{r.get('tried', 0):>7}"
              f"{r.get('rejected', 0):>10}{r.get('accepted', 0):>10}")
    tried = sum(r.get("tried", 0) for r in fuzz)
    rejected = sum(r.get("rejected", 0) for r in fuzz)
    print(f"bad inputs tried: {tried} generated cases, {rejected} rejected with a one-line ValueError and the "
          f"store unchanged; no other exception (else pytest failed above)")
    for r in rows:
        if not r["test"].startswith("fuzz"):
            print(json.dumps(r))
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
