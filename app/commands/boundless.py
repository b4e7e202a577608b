"""``findings run boundless`` and ``findings run train-pricetag``: Boundless DAS with the CL loss on causal LMs.

``register(run_app)`` adds both commands to the ``run`` sub-app. torch and transformers are imported
inside the command functions, so ``findings --help`` stays light.

Examples::

    findings run train-pricetag                       # train (or reuse) the small Price Tagging model
    findings run boundless --epsilon 0,1,4 --seeds 3  # sweep ε on it at its default site
    findings run boundless --search                   # Boundless DAS at every layer × position (ε = 0)
    findings run boundless --model /models/alpaca-7b --layer 15 --position -2 \\
        --device cuda --dtype bfloat16 --seeds 3      # a local Llama-family directory, the paper's site

A local directory is loaded with ``AutoModelForCausalLM.from_pretrained(..., local_files_only=True)`` and
its own tokenizer; prompts are the Alpaca Price Tagging prompts, left-padded, so negative positions
(−2 = last but one token) address the same token in every row. Nothing is ever downloaded.
"""
from __future__ import annotations

import time
from typing import Any, Optional

import typer

TINY = "tiny-pricetag"
DEFAULT_EPSILONS = "0,0.5,1,2,4,8,16,32,64"


def parse_epsilons(values: list[str]) -> list[float]:
    """``["0,1", "4"]`` → ``[0.0, 1.0, 4.0]`` (repeated options and comma lists both work)."""
    out = []
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                eps = float(part)
            except ValueError:
                raise ValueError(f"--epsilon: {part!r} is not a number") from None
            if eps < 0:
                raise ValueError("--epsilon: CL weights cannot be negative")
            out.append(eps)
    if not out:
        raise ValueError("--epsilon: give at least one CL weight")
    return out


def _log(quiet: bool):
    return None if quiet else (lambda msg: typer.echo(msg, err=True))


def _set_threads(device: str, threads: int) -> None:
    import torch

    if device == "cpu" and threads > 0:
        torch.set_num_threads(threads)


def _load(model: str, device: str, dtype: str, answers: str, quiet: bool,
          tiny_config: str | None = None) -> tuple[Any, dict[str, Any] | None]:
    from engine.boundless_data import load_task_lm

    if model == TINY:
        from engine.tiny_lm import tiny_config_from_json

        return load_task_lm(model, device, dtype, tiny=tiny_config_from_json(tiny_config) if tiny_config else None,
                            progress=not quiet)
    if tiny_config is not None:
        raise ValueError(f"--tiny-config applies to {TINY} only")
    if quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    words = tuple(w.strip() for w in answers.split(","))
    if len(words) != 2:
        raise ValueError("--answers takes two words, e.g. 'Yes,No'")
    return load_task_lm(model, device, dtype, answers=words)  # type: ignore[arg-type]


def register(run_app: typer.Typer) -> None:
    """Add ``boundless`` and ``train-pricetag`` to ``run_app`` (a second call does nothing)."""
    if any(c.name == "boundless" for c in run_app.registered_commands):
        return
    from app.cli import emit_json, graph_of, handles_errors

    @run_app.command("train-pricetag")
    @handles_errors
    def train_pricetag(
        layers: int = typer.Option(4, "--layers", min=1, help="Transformer blocks."),
        width: int = typer.Option(64, "--width", min=8, help="Hidden size."),
        heads: int = typer.Option(4, "--heads", min=1),
        steps: int = typer.Option(2500, "--steps", min=1),
        batch_size: int = typer.Option(256, "--batch-size", min=1),
        seed: int = typer.Option(0, "--seed"),
        min_accuracy: Optional[float] = typer.Option(
            None, "--min-accuracy", min=0.0, max=1.0, hidden=True,
            help="Held-out accuracy below which training fails (default: TinyConfig's); for tests, e.g. 0."),
        retrain: bool = typer.Option(False, "--retrain", help="Train again even when a cached model exists."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress on stderr."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Train (or reuse) the small GPT-2-style Price Tagging model; cached as safetensors."""
        from dataclasses import replace

        from engine.tiny_lm import TinyConfig, get_or_train

        if width % heads:
            raise ValueError("--width must be a multiple of --heads")
        cfg = TinyConfig(n_layer=layers, n_embd=width, n_head=heads, steps=steps, batch_size=batch_size, seed=seed)
        if min_accuracy is not None:
            cfg = replace(cfg, min_accuracy=min_accuracy)
        _, info = get_or_train(cfg, retrain=retrain, progress=not quiet)
        if as_json:
            emit_json(info.__dict__)
            return
        how = "reused from cache" if info.cached else f"trained in {info.train_seconds:.0f}s"
        typer.echo(f"{TINY}: held-out accuracy {info.accuracy:.4f} on {info.eval_size} prompts ({how})")
        typer.echo(f"saved at {info.path}")

    @run_app.command("boundless")
    @handles_errors
    def boundless(
        ctx: typer.Context,
        model: str = typer.Option(TINY, "--model", help=f"A local Hugging Face model directory, or {TINY}."),
        layer: Optional[int] = typer.Option(None, "--layer", help="Block whose output is intervened on "
                                            "(default for tiny-pricetag: its searched site)."),
        position: Optional[int] = typer.Option(None, "--position", help="Token position; negative counts from "
                                               "the end (default: tiny-pricetag's searched site, else -2)."),
        epsilon: list[str] = typer.Option([DEFAULT_EPSILONS], "--epsilon", help="CL weights: repeat the option or "
                                          "give a comma list."),
        seeds: int = typer.Option(3, "--seeds", min=1, help="Training seeds per ε (0..N-1)."),
        device: str = typer.Option("cpu", "--device", help="cpu or cuda (or cuda:N)."),
        dtype: str = typer.Option("float32", "--dtype", help="float32 or bfloat16 (model weights)."),
        protocol: str = typer.Option("engine", "--protocol", help="engine (this project's training) | grant2025 "
                                     "(the paper's code: region-sampled pairs, CL-prompt target on the full vector, "
                                     "its schedule; engine.boundless_paper)."),
        cl_target: Optional[str] = typer.Option(None, "--cl-target", help="class-mean | cl-prompt (default: the "
                                                "protocol's: class-mean for engine, cl-prompt for grant2025)."),
        cl_space: Optional[str] = typer.Option(None, "--cl-space", help="subspace | full (default: the protocol's: "
                                               "subspace for engine, full for grant2025)."),
        steps: int = typer.Option(400, "--steps", min=1, help="Training steps per run (engine protocol)."),
        epochs: int = typer.Option(3, "--epochs", min=1, help="Passes over the training pairs (grant2025)."),
        batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Default: 64 (engine), 32 "
                                                 "(grant2025)."),
        train_pairs: Optional[int] = typer.Option(None, "--train-pairs", min=8, help="Default: 2000 (engine), "
                                                  "8000 (grant2025)."),
        test_pairs: int = typer.Option(1000, "--test-pairs", min=8),
        boundary_penalty: Optional[float] = typer.Option(None, "--boundary-penalty", min=0.0,
                                                         help="Default: 0.1, warmed up (engine), 1.0 (grant2025)."),
        divergence: str = typer.Option("emd", "--divergence", help="emd (exact EMD, the ε→0 limit; fast) or "
                                       "sinkhorn (converged debiased S_ε, ε=0.0025; minutes per solve on "
                                       "clustered states); see engine.llm_divergence."),
        answers: str = typer.Option("Yes,No", "--answers", help="Answer words of a local model (first tokens)."),
        search: bool = typer.Option(False, "--search", help="Instead of a sweep: Boundless DAS at ε=0 (seed 0) "
                                    "at every layer and the given or all positions; prints the ranking."),
        threads: int = typer.Option(1, "--threads", help="torch CPU threads (0 = torch's default)."),
        record: bool = typer.Option(True, "--record/--no-record", help="Record the sweep as findings."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress on stderr."),
        as_json: bool = typer.Option(False, "--json"),
        tiny_config: Optional[str] = typer.Option(
            None, "--tiny-config", hidden=True, help=f"JSON object of engine.tiny_lm.TinyConfig fields for {TINY} "
                                                     "(default: the model `run train-pricetag` trains); for tests, "
                                                     "e.g. a short training budget on a cold cache."),
    ) -> None:
        """Boundless DAS with the CL loss on Price Tagging: per ε, test IIA, divergence and boundary width."""
        if dtype not in ("float32", "bfloat16"):
            raise ValueError("--dtype must be float32 or bfloat16")
        if not (device == "cpu" or device.startswith("cuda")):
            raise ValueError("--device must be cpu or cuda")
        epsilons = parse_epsilons(epsilon)
        _set_threads(device, threads)
        from dataclasses import asdict

        from engine.boundless import run_sweep, search_sites
        from engine.boundless_data import DataConfig, prepare
        from engine.boundless_results import sweep_config
        from engine.llm_divergence import MEASURES, PAPER_MEASURE
        from engine.sites import n_layers, site_for
        from engine.tiny_lm import DEFAULT_SITE

        log = _log(quiet)
        if divergence not in ("emd", "sinkhorn"):
            raise ValueError("--divergence must be emd or sinkhorn")
        from engine.boundless import protocol_settings

        base, data = protocol_settings(protocol, cl_target, cl_space, steps, epochs, batch_size, train_pairs,
                                       test_pairs, boundary_penalty, divergence)
        lm, model_info = _load(model, device, dtype, answers, quiet, tiny_config)
        if search:
            layers = [layer] if layer is not None else list(range(n_layers(lm.model)))
            if position is not None:
                positions = [position]
            elif model == TINY:
                positions = list(range(16))
            else:
                positions = [-1, -2, -3]
            search_data = DataConfig(**{**asdict(data), "divergence_n": 2, "divergence_resamples": 1})
            rows = search_sites(lm, layers, positions, base, search_data, log=log)
            if as_json:
                emit_json({"model": model, "search": rows})
                return
            typer.echo(f"{'site':<28} {'IIA':>6} {'changed':>8} {'no-op':>6} {'width':>6}")
            for r in rows:
                typer.echo(f"{r['site']:<28} {r['iia']:>6.3f} {r['iia_changed']:>8.3f} {r['iia_noop']:>6.3f} "
                           f"{r['width']:>6.1f}")
            return
        if layer is None:
            if model != TINY:
                raise ValueError("--layer is required for a local model")
            layer = DEFAULT_SITE[0]
        if position is None:
            position = DEFAULT_SITE[1] if model == TINY else -2
        site = site_for(lm.model, layer, position)
        training = {k: v for k, v in asdict(base).items() if k not in ("epsilon", "seed")}
        config = sweep_config(model=model if model == TINY else lm.name, prompt=lm.prompt, site=site.name,
                              layer=layer, position=position, epsilons=epsilons, seeds=list(range(seeds)),
                              training=training, data=asdict(data), model_info=model_info,
                              divergence_measure=PAPER_MEASURE if protocol == "grant2025" else MEASURES[divergence])

        def compute():
            started = time.perf_counter()
            prep = prepare(lm, layer, position, data)
            if log:
                log(f"{site.name}: factual accuracy {prep.factual_accuracy:.3f}; native states in "
                    f"{prep.prepare_seconds:.0f}s")
            result = run_sweep(prep, epsilons, list(range(seeds)), base, log=log)
            result.extra["model_info"] = model_info
            result.extra["total_seconds"] = round(time.perf_counter() - started, 1)
            return result

        report = None
        if record:
            from engine.record import RunLedger
            from engine.record_boundless import finish, open_run

            with RunLedger(graph_of(ctx)) as ledger:
                handle = open_run(ledger, config, device=device)
                result = compute()
                if handle.run_id is None:
                    report = {"run_id": None, "existing": handle.existing.id}
                else:
                    report = finish(ledger, handle.run_id, result)
        else:
            result = compute()
        if as_json:
            emit_json({**result.to_json(), "recorded": report})
            return
        typer.echo(result.table())
        if report is None:
            return
        if report.get("run_id"):
            typer.echo(f"recorded run {report['run_id']} with {len(report['findings'])} findings")
        else:
            typer.echo(f"not recorded again: an identical finished run exists ({report['existing']})", err=True)

