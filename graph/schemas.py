"""Validation of everything that comes from outside (CLI flags, files, forms, imports): pydantic, strict."""
from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from graph.vocabulary import EDGE_TYPES, ERR_KINDS, NODE_KINDS, STATUSES

Kind = Literal[NODE_KINDS]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]
ErrKind = Literal[ERR_KINDS]  # type: ignore[valid-type]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FloorIn(_In):
    """An estimator's floor on the measurement's data: mean ± SEM over n perfect-map evaluations."""

    mean: float
    sem: float | None = Field(default=None, ge=0)
    n: int | None = Field(default=None, ge=1)


class MeasurementIn(_In):
    metric: str = Field(min_length=1, max_length=64)
    value: float
    err: float | None = Field(default=None, ge=0)
    err_kind: ErrKind | None = None
    n: int | None = Field(default=None, ge=1)
    split: str | None = Field(default=None, max_length=64)
    dataset: str | None = Field(default=None, max_length=128)
    method: str | None = Field(default=None, max_length=128)
    conditions: dict[str, Any] = Field(default_factory=dict)
    higher_is_better: bool | None = None
    measure: str | None = Field(default=None, description="a registered measure id (findings measures)")
    measure_params: dict[str, Any] = Field(default_factory=dict)
    floor: FloorIn | None = None

    @field_validator("measure")
    @classmethod
    def _registered(cls, v: str | None) -> str | None:
        if v is not None:
            from graph.measures import get

            get(v)  # ValueError naming the registered ids
        return v

    @field_validator("value", "err")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class NodeIn(_In):
    kind: Kind
    title: str = Field(min_length=1, max_length=4000)
    description: str = Field(default="", max_length=100_000)
    status: Status = "active"
    attrs: dict[str, Any] = Field(default_factory=dict)
    source: dict[str, Any] = Field(default_factory=dict)
    measurements: list[MeasurementIn] = Field(default_factory=list)


class EdgeIn(_In):
    source: str = Field(min_length=1, max_length=255)
    type: str
    target: str = Field(min_length=1, max_length=255)
    attrs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in EDGE_TYPES:
            raise ValueError(f"unknown edge type {v!r}")
        return v


class NodeExport(NodeIn):
    id: str = Field(min_length=3, max_length=255, pattern=r"^[a-z]+:.+")


class GraphExport(_In):
    nodes: list[NodeExport]
    edges: list[EdgeIn]
    decisions: list[dict[str, Any]] = Field(default_factory=list)


def one_line(exc: ValidationError) -> str:
    """A pydantic error as one sentence a user can act on."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "input"
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"invalid {where}: {first.get('msg', 'invalid value')}{tail}"


def validate(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValueError(one_line(exc)) from None
