"""pyvene's Boundless DAS beside the engine's, both as the paper ran it, on the tiny Price Tagging model.

    .venv/bin/python -m bench.peer_pyvene [--json] [--seeds N] [--epochs E] [--train-pairs N] [--test-pairs M]
                                          [--init shared|own] [--layer L] [--position P]

Needs the optional extra ``peer`` (``pip install 'findings-explorer[peer]'``: pyvene 0.1.x); without pyvene it
prints one line and exits 1.

Both sides train one Boundless DAS intervention at ε = 0 at the same site of the same model
(:data:`engine.tiny_lm.DEFAULT_SITE`, block 1's output at ``?``) on the same region-sampled pairs, under the
paper's recipe (:func:`engine.boundless.BoundlessConfig.grant2025`, documented in :mod:`engine.boundless_paper`):
Adam (rotation lr 1e-3, boundary lr 1e-2), transformers' ``get_linear_schedule_with_warmup`` over the batch
count (warm-up 10 %), batches of 32 in the same shuffled order (the same ``torch.Generator`` permutation per
epoch), 4-batch gradient accumulation with the first update after batch 4, the bfloat16 temperature
``linspace(50, 0.1, batches)`` set after each update, loss = cross-entropy at the last position over the full
vocabulary + 1.0 × the raw boundary parameter.

* **ours**: :func:`engine.boundless.train_boundless` (the engine's hooks, source states collected once by
  :func:`engine.boundless_data.prepare`, answer logits at the last position only).
* **pyvene**: ``IntervenableModel`` with ``BoundlessRotatedSpaceIntervention`` at
  ``RepresentationConfig(layer, "block_output", "pos")`` and ``{"sources->base": position}``, trained by the
  loop of the paper's ``collect_cl_boundless_das.py`` (pyvene's tutorial): every step runs the source prompts
  and the base prompts through the model, the loss reads the full logits against labels that are -100 except
  at the last position, ``intervenable.set_temperature`` / ``set_zero_grad`` after each update.

``--init shared`` (the default) starts pyvene's rotation from the one ours starts from (the same seeded
construction, copied into pyvene's parametrization), so the two runs differ only by implementation;
``--init own`` lets pyvene draw its own orthogonal init under the same seed, as the paper's script did.

Both are evaluated on the same test pairs at the temperature training ended at: IIA as the share of pairs whose
yes-vs-no logit gives the counterfactual label (``iia``) and the paper's accuracy, argmax over the vocabulary
equals the answer token (``iia_argmax``). The time per training step is the training loop's wall time over its
batch count (forward + backward), both in this process under one torch thread, each after a warm-up batch;
``step_cpu_s`` is the same with process CPU time, steadier on a shared machine. Ours collects every source
state once, before training (the model is frozen), so each of its steps runs one forward pass where pyvene's run
two: pyvene is therefore also trained a second time with those states handed over as
``source_representations`` (``iia_given_sources``, ``step_s_given_sources``), which prices the implementations
without that difference. With ``--json`` the last stdout line is ``{"ours": {...}, "pyvene": {...}}``; progress
goes to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

INSTALL_HINT = "pip install 'findings-explorer[peer]'"


def import_pyvene() -> tuple[Any, str]:
    """(pyvene, "") or (None, why it cannot be imported); its import-time notices go to stderr, not stdout."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            import pyvene
    except ImportError as exc:
        if exc.name == "pyvene":
            return None, f"pyvene is not installed; install the optional extra: {INSTALL_HINT}"
        return None, f"pyvene cannot be imported ({exc}); install the optional extra: {INSTALL_HINT}"
    return pyvene, ""


# ---- pyvene's side ------------------------------------------------------------------------------
def build_intervenable(pv: Any, model: Any, layer: int) -> tuple[Any, Any]:
    """An IntervenableModel with one BoundlessRotatedSpaceIntervention at block ``layer``'s output, and that
    intervention."""
    config = pv.IntervenableConfig(
        model_type=type(model),
        representations=[pv.RepresentationConfig(layer=layer, component="block_output", unit="pos")],
        intervention_types=pv.BoundlessRotatedSpaceIntervention,
    )
    intervenable = pv.IntervenableModel(config, model)
    intervenable.disable_model_gradients()
    return intervenable, next(iter(intervenable.interventions.values()))


def copy_init(das: Any, ours: Any, boundary: float) -> None:
    """Set pyvene's rotation (its ``matrix_exp`` trivialization: base and skew parameter) and boundary to ours."""
    import torch

    with torch.no_grad():
        mine, theirs = ours.rotate.parametrizations.weight, das.rotate_layer.parametrizations.weight
        theirs.original.copy_(mine.original)
        theirs[0].base.copy_(mine[0].base)
        das.intervention_boundaries.fill_(boundary)


def pyvene_logits(intervenable: Any, base_ids: Any, source: Any, position: int) -> Any:
    """Full logits (B, T, V) of the base runs (ids (B, T)) with the source's site state swapped in by pyvene:
    ``source`` is the source prompts' ids (B, T), run through the model as the tutorial does, or their site
    states (B, D) handed over as ``source_representations``."""
    if source.is_floating_point():
        _, out = intervenable({"input_ids": base_ids}, None, {"sources->base": (None, position)},
                              source_representations=source.unsqueeze(1))
    else:
        _, out = intervenable({"input_ids": base_ids}, [{"input_ids": source}], {"sources->base": position})
    return out.logits


def paper_loss(logits: Any, labels: Any, das: Any) -> Any:
    """The paper's ``calculate_loss``: CE over every position (labels -100 but the last) + 1.0 × boundary."""
    import torch

    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                           ignore_index=-100)
    return ce, ce + 1.0 * das.intervention_boundaries.sum()


def train_pyvene(pv: Any, prep: Any, cfg: Any, data: dict[str, Any], init: str,
                 given_sources: bool = False) -> dict[str, Any]:
    """The paper's training loop on pyvene (module docstring); returns the trained intervention and timings.
    ``given_sources`` hands pyvene the source states :func:`engine.boundless_data.prepare` collected instead of
    running the source prompts every step."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    from engine.boundless import BoundlessIntervention
    from engine.sites import hidden_size

    torch.manual_seed(cfg.seed)
    if init == "shared":  # the construction train_boundless runs under the same seed
        ours = BoundlessIntervention(hidden_size(prep.lm.model), cfg.boundary_init, cfg.orthogonal_map,
                                     style="pyvene")
    intervenable, das = build_intervenable(pv, prep.lm.model, prep.site.layer)
    if init == "shared":
        copy_init(das, ours, cfg.boundary_init)
    n = len(prep.train.pairs)
    per_epoch = math.ceil(n / cfg.batch_size)
    horizon = per_epoch * cfg.epochs
    gas = cfg.grad_accumulation
    wall, cpu = time.perf_counter(), time.process_time()
    opt = torch.optim.Adam([{"params": das.rotate_layer.parameters()},
                            {"params": das.intervention_boundaries, "lr": cfg.boundary_lr}], lr=cfg.lr)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=cfg.warmup_share * horizon,
                                            num_training_steps=horizon)
    temps = torch.linspace(cfg.temperature_start, cfg.temperature_end, horizon).to(torch.bfloat16)
    intervenable.set_temperature(temps[0])
    gen = torch.Generator().manual_seed(cfg.seed)
    sources = prep.train.source_states if given_sources else data["train_source"]
    total = updates = 0
    sum_ce = 0.0
    for _epoch in range(cfg.epochs):
        order = torch.randperm(n, generator=gen)
        for b in range(per_epoch):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            logits = pyvene_logits(intervenable, data["train_base"][idx], sources[idx], data["position"])
            ce, loss = paper_loss(logits, data["train_labels"][idx], das)
            sum_ce += float(ce.detach())
            (loss / gas if gas > 1 else loss).backward()
            if total % gas == 0 and not (gas > 1 and total == 0):
                opt.step()
                sched.step()
                intervenable.set_zero_grad()
                intervenable.set_temperature(temps[min(total, horizon - 1)])
                updates += 1
            total += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"intervenable": intervenable, "das": das, "wall": wall, "cpu": cpu, "batches": total,
            "updates": updates, "mean_ce": sum_ce / total}


def evaluate_pyvene(prep: Any, trained: dict[str, Any], data: dict[str, Any], batch: int = 250) -> dict[str, float]:
    """IIA (yes vs no) and the paper's argmax accuracy of pyvene's intervention on the test pairs."""
    import torch

    lm, test = prep.lm, prep.test
    said, hit = [], []
    with torch.no_grad():
        for i in range(0, len(test.pairs), batch):
            logits = pyvene_logits(trained["intervenable"], data["test_base"][i:i + batch],
                                   data["test_source"][i:i + batch], data["position"])[:, -1].float()
            said.append(logits[:, lm.yes_id] > logits[:, lm.no_id])
            hit.append(logits.argmax(-1) == test.target_token[i:i + batch])
    das = trained["das"]
    boundary = float(torch.clamp(das.intervention_boundaries, 1e-3, 1).detach()[0])
    return {"iia": float((torch.cat(said) == test.cf_yes).float().mean()),
            "iia_argmax": float(torch.cat(hit).float().mean()), "width": boundary * int(das.embed_dim),
            "final_temperature": float(das.temperature.detach().float())}


# ---- shared pieces ------------------------------------------------------------------------------
def encode(prep: Any) -> dict[str, Any]:
    """Token ids of each split's bases and sources (B, 16), and the paper's labels (B, 16): -100 but the
    counterfactual answer token at the last position."""
    import torch

    from engine.pricetag import CompactTokenizer

    tok = CompactTokenizer()
    out: dict[str, Any] = {}
    for name, split in (("train", prep.train), ("test", prep.test)):
        out[f"{name}_base"] = tok.batch([p.base for p in split.pairs])["input_ids"]
        out[f"{name}_source"] = tok.batch([p.source for p in split.pairs])["input_ids"]
        labels = torch.full_like(out[f"{name}_base"], -100)
        labels[:, -1] = split.target_token
        out[f"{name}_labels"] = labels
    return out


def warm_up(pv: Any, prep: Any, data: dict[str, Any]) -> float:
    """One forward + backward of each implementation before anything is timed; returns the largest logit
    difference between the two at one shared initial state (a check that they compute the same thing)."""
    import torch

    from engine.boundless import BoundlessIntervention, _intervened_logits
    from engine.sites import hidden_size

    idx = torch.arange(min(32, len(prep.train.pairs)))
    torch.manual_seed(12345)
    ours = BoundlessIntervention(hidden_size(prep.lm.model), 0.5, "matrix_exp", style="pyvene")
    rotation = ours.rotation()
    mine, _ = _intervened_logits(prep, ours, prep.train, idx, rotation, ours.mask(50.0))
    torch.nn.functional.cross_entropy(mine, prep.train.target_token[idx]).backward()
    intervenable, das = build_intervenable(pv, prep.lm.model, prep.site.layer)
    copy_init(das, ours, 0.5)
    intervenable.set_temperature(torch.tensor(50.0, dtype=torch.bfloat16))
    theirs = pyvene_logits(intervenable, data["train_base"][idx], data["train_source"][idx], data["position"])
    paper_loss(theirs, data["train_labels"][idx], das)[1].backward()
    return float((theirs[:, -1].detach().float() - mine.detach()).abs().max())


def rotation_diff(ours: Any, das: Any) -> float:
    """Largest entry of |R_ours − R_pyvene| between two trained rotations (both applied as h R)."""
    import torch

    with torch.no_grad():
        return float((ours.rotation() - das.rotate_layer.weight).abs().max())


def run(pv: Any, args: argparse.Namespace, log: Any) -> dict[str, dict[str, Any]]:
    from importlib.metadata import version

    import torch

    from engine.boundless import BoundlessConfig, evaluate, train_boundless
    from engine.boundless_data import DataConfig, prepare, tiny_task_lm
    from engine.tiny_lm import DEFAULT_SITE, get_or_train

    torch.set_num_threads(1)
    model, info = get_or_train(None, progress=False)
    lm = tiny_task_lm(model)
    layer = DEFAULT_SITE[0] if args.layer is None else args.layer
    position = DEFAULT_SITE[1] if args.position is None else args.position
    prep = prepare(lm, layer, position, DataConfig(sampler="regions", train_pairs=args.train_pairs,
                                                  test_pairs=args.test_pairs, divergence_n=2,
                                                  divergence_resamples=1))
    data = encode(prep)
    data["position"] = int(prep.train.base_index[0])  # pyvene takes a token index (prompts are all 16 tokens)
    log(f"{prep.site.name}: {len(prep.train.pairs)} training pairs, {len(prep.test.pairs)} test pairs, "
        f"{args.epochs} epoch(s), init {args.init}, pyvene {version('pyvene')}, torch {torch.__version__}")
    diff = warm_up(pv, prep, data)
    log(f"  same initial state, same batch: largest answer-logit difference {diff:.2e}")
    rows: dict[str, list[dict[str, Any]]] = {"ours": [], "pyvene": []}
    for seed in range(args.seeds):
        cfg = BoundlessConfig.grant2025(epsilon=0.0, seed=seed, epochs=args.epochs)
        wall, cpu = time.perf_counter(), time.process_time()
        trained = train_boundless(prep, cfg)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        batches = math.ceil(len(prep.train.pairs) / cfg.batch_size) * cfg.epochs
        ev = evaluate(prep, trained)
        rows["ours"].append({"seed": seed, "iia": ev.iia, "iia_argmax": ev.iia_argmax, "step_s": wall / batches,
                             "step_cpu_s": cpu / batches, "updates": trained.updates, "width": ev.width,
                             "mean_ce": trained.mean_ce, "final_temperature": trained.final_temperature})
        peer = train_pyvene(pv, prep, cfg, data, args.init)
        pev = evaluate_pyvene(prep, peer, data)
        given = train_pyvene(pv, prep, cfg, data, args.init, given_sources=True)
        rows["pyvene"].append({"seed": seed, **pev, "step_s": peer["wall"] / peer["batches"],
                               "step_cpu_s": peer["cpu"] / peer["batches"], "updates": peer["updates"],
                               "mean_ce": peer["mean_ce"],
                               "rotation_diff": rotation_diff(trained.intervention, peer["das"]),
                               "iia_given_sources": evaluate_pyvene(prep, given, data)["iia"],
                               "step_s_given_sources": given["wall"] / given["batches"]})
        for side in ("ours", "pyvene"):
            r = rows[side][-1]
            log(f"  seed {seed} {side:<6}  IIA {r['iia']:.4f}  argmax {r['iia_argmax']:.4f}  width {r['width']:5.1f}"
                f"  mean CE {r['mean_ce']:.4f}  {r['updates']} updates  {1000 * r['step_s']:.2f} ms/step"
                f" ({1000 * r['step_cpu_s']:.2f} ms CPU)")
        r = rows["pyvene"][-1]
        log(f"  seed {seed} largest |R_ours - R_pyvene| after training {r['rotation_diff']:.2e}; pyvene given the "
            f"source states: IIA {r['iia_given_sources']:.4f}, {1000 * r['step_s_given_sources']:.2f} ms/step")
    out: dict[str, dict[str, Any]] = {}
    for side, rs in rows.items():
        out[side] = {key: statistics.fmean(r[key] for r in rs)
                     for key in ("iia", "iia_argmax", "step_s", "step_cpu_s", "width", "mean_ce",
                                 "iia_given_sources", "step_s_given_sources") if key in rs[0]}
        out[side].update(updates=rs[0]["updates"], seeds=[r["seed"] for r in rs], per_seed=rs)
    out["pyvene"]["init"] = args.init
    out["pyvene"]["logit_diff_at_init"] = diff
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="last stdout line: {\"ours\": {...}, \"pyvene\": {...}}")
    ap.add_argument("--seeds", type=int, default=1, help="training seeds 0..N-1 (default 1)")
    ap.add_argument("--epochs", type=int, default=1, help="passes over the training pairs (the paper: 3)")
    ap.add_argument("--train-pairs", type=int, default=2000, help="the paper: 8000")
    ap.add_argument("--test-pairs", type=int, default=500, help="the paper: 1000")
    ap.add_argument("--init", choices=("shared", "own"), default="shared",
                    help="pyvene starts from our initial rotation (shared) or draws its own under the same seed")
    ap.add_argument("--layer", type=int, default=None, help="block (default: engine.tiny_lm.DEFAULT_SITE)")
    ap.add_argument("--position", type=int, default=None, help="token position (default: DEFAULT_SITE)")
    args = ap.parse_args(argv)
    for name in ("seeds", "epochs", "train_pairs", "test_pairs"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    pv, why = import_pyvene()
    if pv is None:
        print(f"peer_pyvene: {why}", file=sys.stderr)
        return 1

    def log(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    start = time.perf_counter()
    out = run(pv, args, log)
    ours, peer = out["ours"], out["pyvene"]
    log(f"IIA ours {ours['iia']:.4f} / pyvene {peer['iia']:.4f} (|Δ| {abs(ours['iia'] - peer['iia']):.4f}, "
        f"goal ≤ 0.02); argmax ours {ours['iia_argmax']:.4f} / pyvene {peer['iia_argmax']:.4f}")
    log(f"step ours {1000 * ours['step_s']:.2f} ms / pyvene {1000 * peer['step_s']:.2f} ms = "
        f"{ours['step_s'] / peer['step_s']:.3f} (goal ≤ 1.0); CPU {ours['step_cpu_s'] / peer['step_cpu_s']:.3f}; "
        f"load average {os.getloadavg()[0]:.2f}")
    log(f"pyvene given the source states: IIA {peer['iia_given_sources']:.4f}, "
        f"{1000 * peer['step_s_given_sources']:.2f} ms/step (ours / that "
        f"{ours['step_s'] / peer['step_s_given_sources']:.3f}); {time.perf_counter() - start:.0f} s in all")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
