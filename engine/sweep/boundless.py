"""Boundless DAS sweeps (``task: boundless``): one cell per (protocol, CL target, CL space, ε, seed).

::

    task: boundless
    grid: {epsilon: [0, 0.05, 2], seeds: 3, protocol: [grant2025], cl_target: [null], cl_space: [null]}
    settings: {model: tiny-pricetag, epochs: 3}      # or a local model directory present on every node
    resources: {num_cpus: 1, num_gpus: 1}            # a GPU per cell on a Ray cluster

A cell trains and evaluates one intervention — :func:`engine.boundless.run_sweep` over one ε and one seed, at the
settings' site (``findings run boundless`` defaults: the tiny model's searched site; ``layer`` is required for a
local model, position −2 by default) — and is recorded like ``findings run boundless`` with that ε and seed
(:mod:`engine.record_boundless`: a run node and its findings). ε × seed cells keep every cell small and spread
over as many nodes (or GPUs) as there are, which is what the 7B protocol needs; each cell collects its site's
native states itself. ``null`` in the grid's ``cl_target`` / ``cl_space`` means the protocol's own choice.

The driver names the site without loading the weights (a local directory's ``config.json`` gives the
architecture) and, for tiny-pricetag, trains the model once into the cache before any cell starts, so workers
only read it. The report pools each (protocol, CL target, CL space, ε) over its seeds.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

TINY = "tiny-pricetag"


def _site_name(settings: Any, layer: int, position: int) -> str:
    from engine.sites import Site

    if settings.model == TINY:
        arch = "gpt2"
    else:
        config = Path(settings.model) / "config.json"
        if not config.is_file():
            raise ValueError(f"settings.model: {settings.model} is not a local model directory (nothing is downloaded)")
        arch = json.loads(config.read_text(encoding="utf-8")).get("model_type", "")
    return Site(arch, layer, position).name


def _tiny(settings: Any):
    from engine.tiny_lm import TinyConfig

    if settings.tiny_model is None:
        return None
    if settings.model != TINY:
        raise ValueError("settings.tiny_model applies to tiny-pricetag only")
    try:
        return TinyConfig(**settings.tiny_model)
    except TypeError as exc:
        raise ValueError(f"settings.tiny_model: {exc}") from None


def prepare_driver(settings: Any) -> dict[str, Any] | None:
    """Before any cell runs: train (or read) the tiny model once, so workers only read the cache."""
    if settings.model != TINY:
        return None
    from engine.tiny_lm import get_or_train

    _, info = get_or_train(_tiny(settings), progress=False)
    return {k: info.__dict__[k] for k in ("path", "config", "accuracy", "eval_size", "steps")}


def cell_configs(spec: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(labels, config) for every grid point, in grid order. ``config`` holds what a worker needs and what the
    run is keyed and recorded by (``config["sweep"]``, as :func:`engine.boundless_results.sweep_config`)."""
    import itertools

    from engine.boundless import protocol_settings
    from engine.boundless_results import sweep_config
    from engine.llm_divergence import MEASURES, PAPER_MEASURE
    from engine.tiny_lm import DEFAULT_SITE

    g, s = spec.grid, spec.settings
    if s.model != TINY and s.layer is None:
        raise ValueError("settings.layer is required for a local model")
    layer = DEFAULT_SITE[0] if s.layer is None else s.layer
    position = s.position if s.position is not None else (DEFAULT_SITE[1] if s.model == TINY else -2)
    site = _site_name(s, layer, position)
    tiny = _tiny(s)
    out = []
    for protocol, cl_target, cl_space, eps, seed in itertools.product(g.protocol, g.cl_target, g.cl_space,
                                                                      g.epsilon, g.seeds):
        base, data = protocol_settings(protocol, cl_target, cl_space, s.steps, s.epochs, s.batch_size,
                                       s.train_pairs, s.test_pairs, s.boundary_penalty, s.divergence)
        training = {k: v for k, v in asdict(base).items() if k not in ("epsilon", "seed")}
        labels = {"protocol": protocol, "cl_target": base.cl_target, "cl_space": base.cl_space, "epsilon": eps,
                  "seed": seed}
        record = sweep_config(model=s.model, prompt="compact" if s.model == TINY else "alpaca", site=site, layer=layer,
                              position=position, epsilons=[eps], seeds=[seed], training=training, data=asdict(data),
                              model_info={"tiny_model": asdict(tiny)} if tiny is not None else None,
                              divergence_measure=PAPER_MEASURE if protocol == "grant2025" else MEASURES[s.divergence])
        out.append((labels, {"task": "boundless", "sweep": record, "device": s.device, "dtype": s.dtype,
                             "answers": s.answers, "tiny_model": s.tiny_model}))
    return out


def run_boundless_cell(config: dict[str, Any]) -> dict[str, Any]:
    """What a worker computes for one cell: the one-ε, one-seed sweep, as ``SweepResult.to_json()``."""
    from engine.boundless import BoundlessConfig, run_sweep
    from engine.boundless_data import DataConfig, load_task_lm, prepare
    from engine.tiny_lm import TinyConfig

    rec = config["sweep"]
    words = tuple(w.strip() for w in config["answers"].split(","))
    tiny = TinyConfig(**config["tiny_model"]) if config.get("tiny_model") else None
    lm, info = load_task_lm(rec["model"], config["device"], config["dtype"], answers=words, tiny=tiny)  # type: ignore[arg-type]
    prep = prepare(lm, rec["layer"], rec["position"], DataConfig(**rec["data"]))
    result = run_sweep(prep, rec["epsilons"], rec["seeds"], BoundlessConfig(**rec["training"]))
    result.model = rec["model"]
    result.extra["model_info"] = rec.get("model_info")
    result.extra["loaded_model"] = info
    return result.to_json()


def open_run(ledger: Any, config: dict[str, Any]) -> Any:
    from engine.record_boundless import open_run as open_boundless

    return open_boundless(ledger, config["sweep"], device=config["device"])


def finish_run(ledger: Any, run_id: str, data: dict[str, Any]) -> dict[str, Any]:
    from engine.boundless_results import SweepResult
    from engine.record_boundless import finish

    return finish(ledger, run_id, SweepResult.from_json(data))


def summarize_groups(cells: Any) -> list[dict[str, Any]]:
    """One row per (protocol, CL target, CL space, ε): cell counts, and both IIAs and every divergence (with
    its baseline) pooled over the seeds of its finished and already recorded cells."""
    from graph.stats import summarize

    def stat(values: list[float]) -> dict[str, Any] | None:
        values = [v for v in values if v is not None and v == v]
        return summarize(values).to_json() if values else None

    from engine.sweep.summary import group_cells

    out = []
    for g, rows in group_cells(cells, ("protocol", "cl_target", "cl_space", "epsilon"), "runs"):
        g["test"] = None if not rows else {
            "iia": stat([r["iia"] for r in rows]), "iia_argmax": stat([r.get("iia_argmax") for r in rows]),
            "iia_changed": stat([r["iia_changed"] for r in rows]), "iia_noop": stat([r["iia_noop"] for r in rows]),
            "width": stat([r["width"] for r in rows]),
            **{m: {**(stat([r["divergences"][m]["value"] for r in rows]) or {}),
                   "baseline": stat([r["divergences"][m]["baseline"] for r in rows])}
               for m in rows[0].get("divergences", {})}}
        out.append(g)
    return out
