"""The transfer protocols on the synthetic task (Grant, Han, Tartaglini & Potts, arXiv 2511.04638).

Two protocols, named in every config and finding: ``grant2025`` is the paper's code's protocol
(:mod:`engine.grant2025`: x-only swaps, fixed 601 updates, its checkpoint rules, its probes);
``engine`` is this project's (below). Both measure every registered divergence with its floor
(:func:`engine.metrics.measure_divergences`), so either can be read in the paper's measure or in ours.

The engine protocol. For each seed: draw training data (100 samples per class) and an independent held-out
draw, train one 10-class probed MLP on the training draw (shared by both tasks of the partition and by every loss and
map). For each direction (task1→task2, task2→task1): draw training interventions on the first task, train
an alignment map (:mod:`engine.training`), then measure it on held-out interventions of the same task
("train") and of the other task ("cross"): IIA and the divergences between intervened and native vectors on
the causal coordinates (:mod:`engine.metrics`). Summaries are mean ± SEM
over seeds × directions.

Determinism: every random draw comes from a seed derived from (seed, purpose, task/direction), and every
job runs with one torch thread, so results do not depend on how many worker processes run them or in which
order. The map's initial weights depend on (seed, direction) only, so the losses and maps of one seed
start from the same place.

Parallelism: ``workers > 1`` runs jobs in a process pool (spawned, one torch thread each). Classifiers are
trained first (one job per seed) and each seed's alignment jobs start as soon as its classifier is ready.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.interventions import MAP_KINDS
from engine.losses import DEFAULT_CL_WEIGHT, LOSSES
from engine.metrics import EMD_MAX_POINTS, REFERENCES, SINKHORN_MAX_POINTS
from engine.results import PROTOCOLS, EvalResult, RunResult, SyntheticConfig, SyntheticSummary
from engine.synthetic import PARTITIONS, TASK_ALIASES, check_classifier_ties
from engine.threads import one_thread, one_thread_for_good
from engine.training import TrainConfig

DIRECTIONS = (("task1", "task2"), ("task2", "task1"))
_TASK_INDEX = {"task1": 1, "task2": 2}


def make_config(partition: str, loss: str, map_kind: str = "linear", epsilon: float = DEFAULT_CL_WEIGHT,
                seeds: int | Sequence[int] = 5, k: int = 1, max_epochs: int = 3000, patience: int = 600,
                samples_per_class: int = 100, n_train_per_variable: int = 500, n_eval_per_variable: int = 500,
                classifier_max_epochs: int = 1000, classifier_patience: int = 100,
                classifier_ties: str = "last", eval_every: int = 10,
                iia_tolerance: float = 0.01, sinkhorn_max_points: int = SINKHORN_MAX_POINTS,
                emd_max_points: int = EMD_MAX_POINTS, reference: str = "matched", protocol: str = "engine",
                interventions_per_class: int = 100, data_seed: int = 0) -> SyntheticConfig:
    """A :class:`SyntheticConfig` (defaults: linear map, ε = 100, 5 seeds, 3000 epochs, patience 600).

    ``protocol="grant2025"`` runs the paper's code's protocol (:mod:`engine.grant2025`): k = 1 and the linear map
    only, ``interventions_per_class`` and ``data_seed`` apply, the engine-only settings (interventions per
    variable, probe tie rule, divergence checks every ``eval_every`` epochs) do not.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}.")
    if partition not in PARTITIONS:
        raise ValueError(f"Unknown partition {partition!r}; choose one of {', '.join(PARTITIONS)}.")
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}; choose one of {', '.join(LOSSES)}.")
    if map_kind not in MAP_KINDS:
        raise ValueError(f"Unknown map {map_kind!r}; choose one of {', '.join(MAP_KINDS)}.")
    if reference not in REFERENCES:
        raise ValueError(f"Unknown reference {reference!r}; choose one of {', '.join(REFERENCES)}.")
    if protocol == "grant2025" and (map_kind != "linear" or k != 1):
        raise ValueError("The grant2025 protocol runs the paper's published setting: --map linear and k = 1.")
    if interventions_per_class < 1:
        raise ValueError("interventions_per_class must be at least 1.")
    check_classifier_ties(classifier_ties)  # before any worker starts
    seed_list = tuple(range(seeds)) if isinstance(seeds, int) else tuple(int(s) for s in seeds)
    if not seed_list:
        raise ValueError("At least one seed is needed.")
    train = TrainConfig(loss=loss, cl_weight=float(epsilon), k=k, max_epochs=max_epochs, patience=patience,
                        eval_every=eval_every, iia_tolerance=iia_tolerance)
    return SyntheticConfig(partition=partition, train=train, protocol=protocol, map_kind=map_kind, seeds=seed_list,
                           samples_per_class=samples_per_class, n_train_per_variable=n_train_per_variable,
                           n_eval_per_variable=n_eval_per_variable, interventions_per_class=interventions_per_class,
                           data_seed=data_seed, classifier_max_epochs=classifier_max_epochs,
                           classifier_patience=classifier_patience, classifier_ties=classifier_ties,
                           sinkhorn_max_points=sinkhorn_max_points, emd_max_points=emd_max_points,
                           reference=reference)


def derive_seed(*parts: int) -> int:
    """A 31-bit seed from a tuple of ints (numpy SeedSequence)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] & 0x7FFFFFFF)


def task_label(partition: str, task: str) -> str:
    alias = TASK_ALIASES.get((partition, task))
    return f"{task} ({alias})" if alias else task


@dataclass(frozen=True)
class _ClassifierKey:
    """What decides a seed's probe(s); configs with equal keys share them."""

    protocol: str
    seed: int
    samples_per_class: int
    max_epochs: int
    patience: int
    ties: str = ""  # engine
    partition: str = ""  # grant2025: the probes are trained on the partition's intervention sets
    interventions_per_class: int = 0  # grant2025
    data_seed: int = 0  # grant2025


def _classifier_key(config: SyntheticConfig, seed: int) -> _ClassifierKey:
    if config.protocol == "grant2025":
        return _ClassifierKey("grant2025", seed, config.samples_per_class, config.classifier_max_epochs,
                              config.classifier_patience, partition=config.partition,
                              interventions_per_class=config.interventions_per_class, data_seed=config.data_seed)
    return _ClassifierKey("engine", seed, config.samples_per_class, config.classifier_max_epochs,
                          config.classifier_patience, ties=config.classifier_ties)


class _OneThread:
    """Run a block with one torch thread (restored afterwards): results then do not depend on the caller."""

    def __enter__(self):
        import torch

        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self._threads)


def _classifier_job(key: _ClassifierKey):
    """Train a seed's probe(s): (key, payload for the alignment jobs, validation accuracy)."""
    with _OneThread():
        if key.protocol == "grant2025":
            from engine import grant2025 as paper

            samples = paper.draw_samples(key.samples_per_class, key.data_seed)
            sets = paper.make_task_sets(samples, key.partition, key.seed, key.interventions_per_class)
            probes = paper.train_probes(sets, key.seed, key.max_epochs, key.patience)
            payload = {task: (state, n) for task, (state, n, _) in probes.items()}
            return key, payload, min(info.val_accuracy for _, _, info in probes.values())
        from engine.synthetic import make_data, train_classifier

        data = make_data(key.seed, key.samples_per_class, stream=0)
        model, info = train_classifier(data, key.seed, max_epochs=key.max_epochs, patience=key.patience,
                                       ties=key.ties)
        return key, model.state_dict(), info.val_accuracy


def evaluate_alignment(classifier, align_map, eval_set, natives, k: int, task: str, y_values: tuple[int, ...],
                       sinkhorn_max_points: int | None, emd_max_points: int | None, subsample_seed: int,
                       reference: str = "matched") -> EvalResult:
    """Measure a trained map on one task's interventions (engine protocol): IIA, no-op IIA and every
    divergence measure with its floor (:func:`engine.metrics.measure_divergences`) on the causal coordinates.

    ``natives`` (N, D) are the task's native vectors (the "task" reference); the class-matched references
    and the paper's native draws come with ``eval_set``.
    """
    import torch

    from engine.interventions import swap, variable_mask
    from engine.metrics import PointSets, iia, measure_divergences

    with torch.no_grad():
        w, w_inv = align_map.matrices()
        mask = variable_mask(eval_set.variable, eval_set.base.shape[1], k)
        h = swap(eval_set.base, eval_set.source, mask, w, w_inv)
        accuracy = iia(classifier(h), eval_set.target)
        noop = iia(classifier(eval_set.base), eval_set.target)
    sets = PointSets(intervened=_causal(h), paper_natives=_causal(eval_set.paper_native),
                     matched=_causal(eval_set.reference), matched2=_causal(eval_set.reference2),
                     task_natives=_causal(natives))
    return EvalResult(task=task, y_values=tuple(y_values), n_interventions=len(eval_set), iia=accuracy,
                      noop_iia=noop, divergences=measure_divergences(sets, reference, subsample_seed,
                                                                     sinkhorn_max_points, emd_max_points))


def _alignment_job(config: SyntheticConfig, seed: int, direction: tuple[str, str], payload,
                   classifier_val_accuracy: float) -> RunResult:
    job = _paper_alignment if config.protocol == "grant2025" else _engine_alignment
    start = time.perf_counter()
    with _OneThread():
        result = job(config, seed, direction, payload, classifier_val_accuracy)
    result.duration_s = round(time.perf_counter() - start, 3)
    return result


def _engine_alignment(config: SyntheticConfig, seed: int, direction: tuple[str, str], classifier_state,
                      classifier_val_accuracy: float) -> RunResult:
    from engine.interventions import make_map
    from engine.synthetic import DIM, load_classifier, make_data, make_interventions, partition_tasks
    from engine.training import train_alignment

    tasks = partition_tasks(config.partition)
    src, dst = direction
    train_data = make_data(seed, config.samples_per_class, stream=0)
    eval_data = make_data(seed, config.samples_per_class, center=train_data.center, stream=1)
    train_natives = train_data.subset(tasks[src])
    train_set = make_interventions(train_natives, config.n_train_per_variable,
                                   seed=derive_seed(seed, 1, _TASK_INDEX[src]))
    classifier = load_classifier(classifier_state)
    dir_index = DIRECTIONS.index(direction)
    align_map = make_map(config.map_kind, DIM, seed=derive_seed(seed, 2, dir_index))
    outcome = train_alignment(classifier, align_map, train_set, config.train,
                              selection_seed=derive_seed(seed, 5, _TASK_INDEX[src]))
    evals = {}
    for task in (src, dst):
        natives = eval_data.subset(tasks[task])
        eval_set = make_interventions(natives, config.n_eval_per_variable,
                                      seed=derive_seed(seed, 3, _TASK_INDEX[task]))
        evals[task] = evaluate_alignment(
            classifier, outcome.align_map, eval_set, natives.features, config.k,
            task_label(config.partition, task), tasks[task], config.sinkhorn_max_points,
            config.emd_max_points, subsample_seed=derive_seed(seed, 4, _TASK_INDEX[task]),
            reference=config.reference)
    return RunResult(seed=seed, direction=f"{src}->{dst}", train=evals[src], cross=evals[dst],
                     epochs=outcome.epochs, chosen_epoch=outcome.chosen.epoch,
                     chosen_train_iia=outcome.chosen.train_iia,
                     chosen_train_divergence=outcome.chosen.divergence, stopped_early=outcome.stopped_early,
                     classifier_val_accuracy=classifier_val_accuracy, duration_s=0.0)


def _paper_alignment(config: SyntheticConfig, seed: int, direction: tuple[str, str], probes,
                     classifier_val_accuracy: float) -> RunResult:
    """The paper's protocol for one (seed, direction): train on one task, score on both (engine.grant2025)."""
    import torch

    from engine import grant2025 as paper
    from engine.metrics import PointSets, iia, measure_divergences
    from engine.synthetic import partition_tasks

    tasks = partition_tasks(config.partition)
    src, dst = direction
    samples = paper.draw_samples(config.samples_per_class, config.data_seed)
    sets = paper.make_task_sets(samples, config.partition, seed, config.interventions_per_class)
    loaded = {t: paper.load_probe(state, n) for t, (state, n) in probes.items()}
    dir_index = DIRECTIONS.index(direction)
    training = paper.train_map(loaded[src], sets[src], config.loss, map_seed=derive_seed(seed, 2, dir_index),
                               cl_seed=derive_seed(seed, 6, dir_index), lr=config.train.lr,
                               n_epochs=config.train.max_epochs, patience=config.train.patience,
                               cl_weight=config.train.cl_weight)
    evals = {}
    for task in (src, dst):
        ts = sets[task]
        h = paper.intervene(training.align_map, ts)
        with torch.no_grad():
            accuracy = iia(loaded[task](h), ts.target)
            noop = float((ts.base_label == ts.target).float().mean())
        gen = torch.Generator().manual_seed(derive_seed(seed, 7, _TASK_INDEX[task]))
        matched, matched2 = (_draw_class_matched(ts, gen) for _ in range(2))
        point_sets = PointSets(intervened=_causal(h), paper_natives=_causal(ts.src), matched=_causal(matched),
                               matched2=_causal(matched2), task_natives=_causal(ts.natives))
        evals[task] = EvalResult(
            task=task_label(config.partition, task), y_values=tasks[task], n_interventions=len(ts), iia=accuracy,
            noop_iia=noop, divergences=measure_divergences(
                point_sets, config.reference, derive_seed(seed, 4, _TASK_INDEX[task]), config.sinkhorn_max_points,
                config.emd_max_points))
    return RunResult(seed=seed, direction=f"{src}->{dst}", train=evals[src], cross=evals[dst],
                     epochs=training.epochs, chosen_epoch=training.chosen_epoch,
                     chosen_train_iia=training.chosen_train_iia,
                     chosen_train_divergence=training.chosen_train_divergence,
                     stopped_early=training.epochs < config.train.max_epochs,
                     classifier_val_accuracy=classifier_val_accuracy, duration_s=0.0)


def _causal(t):
    """The causal coordinates of (n, 18) vectors, as float64 numpy (what every divergence measure compares)."""
    from engine.synthetic import N_CAUSAL

    return t[:, :N_CAUSAL].double().numpy()


def _draw_class_matched(ts, gen):
    """For each intervention of a grant2025 task set, a native vector of its target class (n, 18)."""
    import torch

    out = torch.empty_like(ts.src)
    natives_xy = [tuple(p) for p in ts.natives_xy.tolist()]
    targets = [tuple(p) for p in ts.target_xy.tolist()]
    for c in set(targets):
        rows = torch.tensor([i for i, p in enumerate(natives_xy) if p == c])
        where = torch.tensor([i for i, p in enumerate(targets) if p == c])
        out[where] = ts.natives[rows[torch.randint(0, len(rows), (len(where),), generator=gen)]]
    return out




def run_synthetic_many(configs: Iterable[SyntheticConfig], workers: int = 1,
                       progress: bool = True) -> list[SyntheticSummary]:
    """Run several configs, sharing each seed's classifier among them. Returns one summary per config.

    ``wall_time_s`` of each summary is the wall time of this whole call.
    """
    from tqdm.auto import tqdm

    configs = list(configs)
    if workers < 1:
        raise ValueError("workers must be at least 1.")
    start = time.perf_counter()
    keys = sorted({_classifier_key(c, s) for c in configs for s in c.seeds},
                  key=lambda k: (k.seed, k.protocol, k.partition, k.samples_per_class))
    jobs_by_key = {key: [(i, c, key.seed, d) for i, c in enumerate(configs) for d in DIRECTIONS
                         if key.seed in c.seeds and _classifier_key(c, key.seed) == key] for key in keys}
    # longest jobs first inside a seed: divergence-selected losses run longer than DAS
    for jobs in jobs_by_key.values():
        jobs.sort(key=lambda j: (j[1].loss == "das", j[1].map_kind))
    results: dict[int, list[RunResult]] = {i: [] for i in range(len(configs))}
    val_acc: dict[_ClassifierKey, float] = {}
    total = len(keys) + sum(len(j) for j in jobs_by_key.values())
    bar = tqdm(total=total, desc="synthetic runs", disable=not progress, file=sys.stderr)

    if workers == 1:
        with one_thread():  # the same numbers as in a pool process
            for key in keys:
                _, state, accuracy = _classifier_job(key)
                val_acc[key] = accuracy
                bar.update(1)
                for i, c, seed, d in jobs_by_key[key]:
                    results[i].append(_alignment_job(c, seed, d, state, accuracy))
                    bar.update(1)
    else:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=one_thread_for_good) as pool:
            pending = {pool.submit(_classifier_job, key): ("clf", None) for key in keys}
            try:
                while pending:
                    done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        kind, index = pending.pop(fut)
                        if kind == "clf":
                            key, state, accuracy = fut.result()
                            val_acc[key] = accuracy
                            for i, c, seed, d in jobs_by_key[key]:
                                pending[pool.submit(_alignment_job, c, seed, d, state, accuracy)] = ("run", i)
                        else:
                            results[index].append(fut.result())
                        bar.update(1)
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
    bar.close()
    wall = time.perf_counter() - start
    summaries = []
    for i, c in enumerate(configs):
        runs = sorted(results[i], key=lambda r: (r.seed, r.direction))
        summaries.append(SyntheticSummary(config=c, runs=runs, wall_time_s=round(wall, 2),
                                          classifier_val_accuracy={s: val_acc[_classifier_key(c, s)] for s in c.seeds}))
    return summaries


def run_synthetic(config: SyntheticConfig, workers: int = 1, progress: bool = True) -> SyntheticSummary:
    """Run one config: seeds × both directions. Returns the summary (mean ± SEM over runs)."""
    return run_synthetic_many([config], workers=workers, progress=progress)[0]


def grid_configs(partitions: Sequence[str], losses: Sequence[str] = LOSSES, maps: Sequence[str] = ("linear",),
                 **kwargs) -> list[SyntheticConfig]:
    """Configs for every partition × loss × map (keyword arguments go to :func:`make_config`)."""
    return [make_config(p, loss, m, **kwargs) for p in partitions for m in maps for loss in losses]


def with_seeds(config: SyntheticConfig, seeds: Sequence[int]) -> SyntheticConfig:
    return replace(config, seeds=tuple(seeds))
