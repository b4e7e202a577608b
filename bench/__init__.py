"""Benchmarks: ``python -m bench`` (``make bench``) runs the scale suite; see bench/__main__.py."""
from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any


def write_results(path: Path, data: Any) -> None:
    """Write a benchmark's results as indented JSON, creating bench/results/ when needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def work_folder(keep: Path | None, prefix: str) -> tuple[Path, str | None]:
    """(the folder a benchmark builds in, the temporary folder to remove afterwards or None): ``keep`` when
    given (created if missing, kept), else a new temporary folder."""
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
        return keep, None
    tmp = tempfile.mkdtemp(prefix=prefix)
    return Path(tmp), tmp


def load() -> str:
    """The 1, 5 and 15 minute load averages, as a benchmark row prints them (``0.9/1.0/0.8``)."""
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """What the results file says of the machine: cpus, platform, Python, and the load average before and after."""
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "load_avg_before": load_before, "load_avg_after": os.getloadavg()}
