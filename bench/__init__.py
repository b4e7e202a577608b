"""Benchmarks: ``python -m bench`` (``make bench``) runs the scale suite; see bench/__main__.py."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_results(path: Path, data: Any) -> None:
    """Write a benchmark's results as indented JSON, creating bench/results/ when needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
