"""A small GPT-2-style causal LM trained here on Price Tagging, cached as safetensors.

No 7B weights can be downloaded on this machine, so the Boundless DAS protocol also runs on a model this
module trains: a ``transformers`` ``GPT2LMHeadModel`` (4 blocks, width 64, 4 heads by default) over the
18-symbol :class:`engine.pricetag.CompactTokenizer`, trained with cross-entropy on the answer token
(``yes``/``no``) after ``?``, on freshly sampled prompts every step.

Training is deterministic under its seed (one CPU thread, dropout off, a seeded data stream). The result
is stored under ``$FINDINGS_CACHE`` (else ``~/.cache/findings/models/``) in a directory named by a hash of
the training configuration — ``model.safetensors`` (weights), ``config.json`` (the GPT-2 config) and
``meta.json`` (held-out accuracy, steps, time) — and reused by later calls. Loading reads safetensors only.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
import typing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.pricetag import CompactTokenizer, sample_factual

MODEL_NAME = "tiny-pricetag"
FORMAT_VERSION = 1  # bump when the prompt format or the training recipe changes meaning
# Default intervention site (block, token position) of the default model: block 1's output at ``?`` (index 15),
# chosen by the layer × position search (bench/boundless_sweep.py --search-only: ε = 0, seed 0, 300 steps, all
# 4 blocks × positions 0, 5, 10–15). Best by changed-pair IIA: h.1@15 0.718 (raw 0.883), h.0@15 0.601,
# h.2@15 0.565, h.3@15 0.435, h.0@11 0.355; every other site ≤ 0.25, and block 3 before position 15 cannot
# reach the answer at all. No-op IIA is 0.699 everywhere. Searched again under the paper's protocol
# (findings run boundless --protocol grant2025 --search, region pairs, no-op 0.644) at the last token and at the
# paper's position, the last but one (index 14, the amount's last digit here): changed-pair IIA h.1@15 0.764
# (raw 0.891), h.0@15 0.758, h.2@15 0.608, h.3@15 0.381; at position 14 every block stays at the no-op
# (0.03–0.07; the boundary collapses to 0.1 dims). The compact prompt ends at "?", where the answer is read, so
# no token sits between the input and the answer as "Response:" does in the Alpaca prompt; the default stays.
DEFAULT_SITE = (1, 15)


@dataclass(frozen=True)
class TinyConfig:
    n_layer: int = 4
    n_embd: int = 64
    n_head: int = 4
    steps: int = 2500
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    seed: int = 0
    eval_size: int = 4000
    min_accuracy: float = 0.95

    def key(self) -> str:
        data = {**asdict(self), "format": FORMAT_VERSION, "vocab": list(CompactTokenizer.vocab)}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def tiny_config_from_json(text: str) -> TinyConfig:
    """A :class:`TinyConfig` from a JSON object of some of its fields, e.g. ``{"steps": 250, "n_layer": 2}``
    (the hidden ``--tiny-config`` of ``findings run boundless``); unknown fields and wrong types are refused."""
    from pydantic import ConfigDict, ValidationError, create_model

    hints = typing.get_type_hints(TinyConfig)
    fields = create_model("TinyConfigFields", __config__=ConfigDict(extra="forbid"),
                          **{f.name: (hints[f.name], f.default) for f in dataclasses.fields(TinyConfig)})
    try:
        return TinyConfig(**fields.model_validate_json(text).model_dump())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ValueError(f"--tiny-config: {where + ': ' if where else ''}{first['msg']}") from None


@dataclass
class TinyModelInfo:
    path: str
    config: dict[str, Any]
    accuracy: float  # held-out factual accuracy
    eval_size: int
    train_seconds: float
    steps: int
    cached: bool  # True when loaded from the cache instead of trained now


def cache_root() -> Path:
    root = os.environ.get("FINDINGS_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "findings"
    return base / "models"


def model_dir(cfg: TinyConfig) -> Path:
    return cache_root() / f"{MODEL_NAME}-{cfg.key()}"


def gpt2_config(cfg: TinyConfig):
    from transformers import GPT2Config

    tok = CompactTokenizer()
    return GPT2Config(
        vocab_size=tok.vocab_size, n_positions=tok.prompt_length, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
        n_head=cfg.n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=tok.pad_id,
        eos_token_id=tok.pad_id, pad_token_id=tok.pad_id,
    )


def accuracy(model: Any, examples: list, batch_size: int = 1000) -> float:
    """Share of prompts whose yes/no logit comparison at the last position matches the label."""
    import torch

    tok = CompactTokenizer()
    right = 0
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            chunk = examples[i:i + batch_size]
            batch = tok.batch(chunk)
            logits = model(input_ids=batch["input_ids"]).logits[:, -1]
            said_yes = logits[:, tok.yes_id] > logits[:, tok.no_id]
            right += int((said_yes == torch.tensor([ex.label for ex in chunk])).sum())
    return right / max(len(examples), 1)


def train(cfg: TinyConfig, progress: bool = False) -> tuple[Any, float, float]:
    """Train a fresh model; returns (model, held-out accuracy, seconds)."""
    import numpy as np
    import torch
    from transformers import GPT2LMHeadModel

    tok = CompactTokenizer()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(cfg.seed)
        model = GPT2LMHeadModel(gpt2_config(cfg))
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

        def lr_at(step: int) -> float:
            if step < cfg.warmup_steps:
                return (step + 1) / cfg.warmup_steps
            frac = (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1)
            return 0.5 * (1 + math.cos(math.pi * frac))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
        rng = np.random.default_rng(cfg.seed)
        start = time.perf_counter()
        for step in range(cfg.steps):
            chunk = sample_factual(cfg.batch_size, int(rng.integers(2**31)))
            batch = tok.batch(chunk)
            target = torch.tensor([tok.yes_id if ex.label else tok.no_id for ex in chunk])
            logits = model(input_ids=batch["input_ids"]).logits[:, -1]
            loss = torch.nn.functional.cross_entropy(logits, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            if progress and (step + 1) % 250 == 0:
                # stderr: a command's stdout holds only its result (e.g. `run boundless --json` on a cold cache)
                print(f"  step {step + 1}/{cfg.steps} loss {loss.item():.4f}", file=sys.stderr, flush=True)
        seconds = time.perf_counter() - start
        model.eval()
        acc = accuracy(model, heldout(cfg))
    finally:
        torch.set_num_threads(threads)
    return model, acc, seconds


def heldout(cfg: TinyConfig) -> list:
    """The held-out factual prompts (a seed stream disjoint from training's)."""
    return sample_factual(cfg.eval_size, 1_000_003 + cfg.seed)


def save(model: Any, info: dict[str, Any], directory: Path) -> None:
    from safetensors.torch import save_model

    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / "model.safetensors.tmp"
    save_model(model, str(tmp))
    model.config.to_json_file(str(directory / "config.json"))
    (directory / "meta.json").write_text(json.dumps(info, indent=2))
    tmp.replace(directory / "model.safetensors")


def load(directory: Path) -> Any:
    """Load a cached tiny model (safetensors only), in eval mode with frozen weights."""
    from safetensors.torch import load_model
    from transformers import GPT2Config, GPT2LMHeadModel

    directory = Path(directory)
    if not (directory / "model.safetensors").exists():
        raise ValueError(f"no model.safetensors in {directory}")
    model = GPT2LMHeadModel(GPT2Config.from_json_file(str(directory / "config.json")))
    load_model(model, str(directory / "model.safetensors"))
    model.eval()
    model.requires_grad_(False)
    return model


def get_or_train(cfg: TinyConfig | None = None, retrain: bool = False,
                 progress: bool = False) -> tuple[Any, TinyModelInfo]:
    """The tiny model for ``cfg``: from the cache when present, else trained and cached.

    Raises ``ValueError`` when a fresh model misses ``cfg.min_accuracy`` on held-out prompts (it is still
    saved, with its accuracy in ``meta.json``, so the failure can be inspected).
    """
    cfg = cfg or TinyConfig()
    directory = model_dir(cfg)
    meta_path = directory / "meta.json"
    if not retrain and (directory / "model.safetensors").exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        info = TinyModelInfo(path=str(directory), config=asdict(cfg), accuracy=meta["accuracy"],
                             eval_size=meta["eval_size"], train_seconds=meta["train_seconds"], steps=meta["steps"],
                             cached=True)
        if info.accuracy < cfg.min_accuracy:
            raise ValueError(f"the cached tiny model at {directory} has held-out accuracy {info.accuracy:.3f} "
                             f"< {cfg.min_accuracy}; retrain with other settings")
        return load(directory), info
    model, acc, seconds = train(cfg, progress=progress)
    meta = {"accuracy": acc, "eval_size": cfg.eval_size, "train_seconds": round(seconds, 2), "steps": cfg.steps,
            "config": asdict(cfg), "key": cfg.key(), "format": FORMAT_VERSION}
    save(model, meta, directory)
    info = TinyModelInfo(path=str(directory), config=asdict(cfg), accuracy=acc, eval_size=cfg.eval_size,
                         train_seconds=round(seconds, 2), steps=cfg.steps, cached=False)
    if acc < cfg.min_accuracy:
        raise ValueError(f"the tiny model reached only {acc:.3f} held-out accuracy (< {cfg.min_accuracy}); "
                         f"train longer (steps={cfg.steps}) or wider")
    model.requires_grad_(False)
    return model, info
