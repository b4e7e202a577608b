"""The sweep spec: a YAML file validated with pydantic (unknown keys refused), and its loaders.

::

    task: synthetic
    grid: {partition: [og_holdouts], loss: [das, das+cl], epsilon: [1, 100], map: [linear], seeds: [0, 1]}
    settings: {max_epochs: 200, patience: 50, samples_per_class: 30, train_interventions: 100,
               eval_interventions: 100, classifier_epochs: 200}
    retries: 1
    resources: {num_cpus: 1, num_gpus: 0}
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt, ValidationError,
                      field_validator)

GRID_AXES = ("partition", "loss", "epsilon", "map", "k", "seeds")


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _as_list(value: Any) -> Any:
    return value if isinstance(value, (list, tuple)) else [value]


class Grid(_Forbid):
    """The axes of the grid; a scalar is a one-value axis. ``seeds: N`` means seeds 0..N-1."""

    partition: list[str] = Field(default=["og_holdouts"], min_length=1)
    loss: list[str] = Field(min_length=1)
    epsilon: list[float] = Field(default=[100.0], min_length=1)
    map: list[str] = Field(default=["linear"], min_length=1)
    k: list[PositiveInt] = Field(default=[1], min_length=1)
    seeds: list[NonNegativeInt] = Field(min_length=1)

    @field_validator("partition", "loss", "epsilon", "map", "k", mode="before")
    @classmethod
    def _scalar_to_list(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                raise ValueError("seeds: N needs N ≥ 1 (seeds 0..N-1), or give a list of seeds")
            return list(range(value))
        return value


class Settings(_Forbid):
    """Protocol settings shared by every cell (defaults: the published protocol)."""

    max_epochs: PositiveInt = 3000
    patience: PositiveInt = 600
    samples_per_class: int = Field(default=100, ge=2)
    train_interventions: PositiveInt = 500
    eval_interventions: PositiveInt = 500
    classifier_epochs: PositiveInt = 1000
    classifier_patience: PositiveInt = 100
    classifier_ties: Literal["last", "first"] = "last"
    reference: Literal["matched", "task"] = "matched"
    protocol: Literal["engine", "grant2025"] = "engine"  # grant2025: the paper's code's protocol
    interventions_per_class: PositiveInt = 100  # grant2025 only


class BoundlessGrid(_Forbid):
    """Axes of a Boundless DAS sweep (``task: boundless``); one cell per (setting, ε, seed)."""

    epsilon: list[NonNegativeFloat] = Field(min_length=1)
    seeds: list[NonNegativeInt] = Field(min_length=1)
    protocol: list[Literal["engine", "grant2025"]] = Field(default=["engine"], min_length=1)
    cl_target: list[Literal["class-mean", "cl-prompt"] | None] = Field(default=[None], min_length=1)
    cl_space: list[Literal["subspace", "full"] | None] = Field(default=[None], min_length=1)

    @field_validator("epsilon", "protocol", "cl_target", "cl_space", mode="before")
    @classmethod
    def _scalar_to_list(cls, value: Any) -> Any:
        return _as_list(value)

    _seed_count = field_validator("seeds", mode="before")(Grid._seed_count.__func__)


class BoundlessSettings(_Forbid):
    """The model, site and training budget every Boundless cell shares (``null`` = the protocol's default, as
    ``findings run boundless`` resolves it)."""

    model: str = "tiny-pricetag"  # or a local Hugging Face model directory (on every node)
    layer: int | None = None
    position: int | None = None
    steps: PositiveInt = 400  # engine protocol
    epochs: PositiveInt = 3  # grant2025 protocol
    batch_size: PositiveInt | None = None
    train_pairs: PositiveInt | None = None
    test_pairs: PositiveInt = 1000
    boundary_penalty: NonNegativeFloat | None = None
    divergence: Literal["emd", "sinkhorn"] = "emd"
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16"] = "float32"
    answers: str = "Yes,No"
    tiny_model: dict[str, Any] | None = None  # engine.tiny_lm.TinyConfig fields (tiny-pricetag only)


TASKS = {"synthetic": (Grid, Settings), "boundless": (BoundlessGrid, BoundlessSettings)}


class Resources(_Forbid):
    """What one cell asks of a Ray node (the local backend runs one cell per worker process)."""

    num_cpus: float = Field(default=1.0, gt=0)
    num_gpus: float = Field(default=0.0, ge=0)
    memory: PositiveInt | None = Field(default=None, description="bytes of RAM to reserve per cell")


class RayOptions(_Forbid):
    """Passed to ``ray.init``: e.g. ``runtime_env: {working_dir: ., excludes: [.venv]}`` to ship the code."""

    runtime_env: dict[str, Any] | None = None


class SweepSpec(_Forbid):
    task: Literal["synthetic", "boundless"] = "synthetic"
    name: str | None = None
    grid: Grid | BoundlessGrid
    settings: Settings | BoundlessSettings = Field(default_factory=Settings)
    retries: NonNegativeInt = 1
    resources: Resources = Field(default_factory=Resources)
    ray: RayOptions = Field(default_factory=RayOptions)


def _validation_message(exc: ValidationError, source: str, prefix: str = "") -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join([prefix] * bool(prefix) + [str(p) for p in err["loc"]]) or "spec"
        parts.append(f"{where}: {err['msg']}")
    more = f" (+{exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return f"{source}: invalid sweep spec — " + "; ".join(parts) + more


def parse_spec(data: Any, source: str = "spec") -> SweepSpec:
    """Validate a spec mapping; raise ``ValueError`` with the first problems named by their key path."""
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a sweep spec is a mapping with task, grid, settings, retries, resources")
    data = dict(data)
    models = TASKS.get(data.get("task", "synthetic"))
    if models is not None:  # grid and settings are read as the task's own (an unknown task is refused below)
        for part, model in zip(("grid", "settings"), models):
            if part in data or part == "grid":
                try:
                    data[part] = model.model_validate(data.get(part))
                except ValidationError as exc:
                    raise ValueError(_validation_message(exc, source, prefix=part)) from None
        data.setdefault("settings", models[1]())
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_validation_message(exc, source)) from None


def load_spec(path: str | Path) -> SweepSpec:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such sweep spec: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_spec(data, str(path))

