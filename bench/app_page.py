"""How long the node page of the seed finding takes to render on the seeded graph.

Runs the page with Streamlit's AppTest (the whole script: navigation, the store queries, the
neighbourhood, similarity candidates) against a fresh seeded and embedded SQLite database, and prints
the median of several renders after one warm-up (the warm-up pays for imports and opening the store).

    .venv/bin/python -m bench.app_page [--repeat N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app" / "streamlit_app.py"
SEED_FINDING = ("finding:for-small-cl-loss-weights-epsilon-iia-is-maintained-potentially-improved-"
                "while-emd-decreases-in-boundless-das-on-a-7b-llm")


def seeded_db(directory: Path) -> str:
    from seeds import build_seeded_db

    return str(build_seeded_db(directory / "bench.db", embed=True))


def render_times(repeat: int, node_id: str = SEED_FINDING,
                 expect: str = "For small CL loss weights") -> tuple[float, list[float]]:
    """(first render, later renders) in seconds of ``node_id``'s page, each checked to show ``expect``;
    the database is the one ``FINDINGS_DB`` names."""
    from streamlit.testing.v1 import AppTest

    def render() -> float:
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.query_params["node"] = node_id
        start = time.perf_counter()
        at.run()
        took = time.perf_counter() - start
        if at.exception:
            raise RuntimeError(at.exception[0].message)
        if not any(expect in m.value for m in at.markdown):
            raise RuntimeError(f"the node page did not render {node_id}")
        return took

    first = render()
    return first, [render() for _ in range(repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FINDINGS_DB"] = seeded_db(Path(tmp))
        first, times = render_times(args.repeat)
    median = statistics.median(times)
    print(f"node page (seed finding, seeded graph): median {median * 1000:.0f} ms over {len(times)} renders "
          f"(min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; first render {first:.2f} s "
          f"incl. imports and opening the store) — target < 1 s: {'ok' if median < 1 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
