"""The model, its Price Tagging encoding, and the native site states Boundless DAS trains and is measured on.

:class:`TaskLM` wraps a causal LM with the prompt encoding it reads and its yes/no answer tokens: the small model
trained here (:func:`tiny_task_lm`, compact prompts) or a local Hugging Face directory (:func:`hf_task_lm`,
Alpaca prompts; nothing is downloaded); :func:`load_task_lm` picks by name. :func:`prepare` samples the
counterfactual pairs (:mod:`engine.pricetag`: the engine's balanced sampler or the paper's region sampler) and
collects, once, with the model frozen, the native states at the site of every base, source and CL prompt, the
class means of the left-boundary variable, and the native reference draws of the engine's divergence
(:class:`engine.llm_divergence.NativeReference`).
"""
from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from engine.hooks import capture, token_index
from engine.llm_divergence import NativeReference
from engine.pricetag import SAMPLERS, CounterfactualPair, PriceTag
from engine.sites import Site, site_for


@dataclass(frozen=True)
class DataConfig:
    train_pairs: int = 2000
    test_pairs: int = 1000
    data_seed: int = 0  # pairs are the same for every training seed and ε
    divergence_n: int = 256
    divergence_resamples: int = 5
    divergence_estimator: str = "emd"  # engine.llm_divergence: "emd" (exact, ε→0 limit) or "sinkhorn" (S_ε)
    batch_size: int = 250  # for the frozen forward passes that collect native states
    sampler: str = "balanced"  # engine.pricetag.SAMPLERS: "balanced" (iid, label quota) or "regions" (the paper's)



# ---- the model and its task encoding ----------------------------------------------------------------
@dataclass
class TaskLM:
    """A causal LM with the Price Tagging encoding it reads and its yes/no answer tokens."""

    model: Any
    name: str
    encode: Callable[[Sequence[PriceTag]], dict[str, torch.Tensor]]
    yes_id: int
    no_id: int
    device: str = "cpu"
    prompt: str = "compact"  # "compact" | "alpaca"

    def __post_init__(self) -> None:
        self._keep = "logits_to_keep" in inspect.signature(self.model.forward).parameters

    def last_logits(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Answer logits (B, V) at the last position, float32."""
        extra = {"logits_to_keep": 1} if self._keep else {}
        return self.model(**inputs, **extra).logits[:, -1].float()


def tiny_task_lm(model: Any, name: str = "tiny-pricetag", device: str = "cpu") -> TaskLM:
    from engine.pricetag import CompactTokenizer

    tok = CompactTokenizer()
    return TaskLM(model=model.to(device), name=name, encode=tok.batch, yes_id=tok.yes_id, no_id=tok.no_id,
                  device=device, prompt="compact")


def hf_task_lm(path: str, device: str = "cpu", dtype: str = "float32",
               answers: tuple[str, str] = ("Yes", "No")) -> TaskLM:
    """A local Hugging Face causal LM directory (never downloads), frozen, with the Alpaca prompt.

    This is the path for real LLMs, e.g. a local Alpaca/Llama-7B directory with ``device="cuda"`` and
    ``dtype="bfloat16"`` (the paper's site is layer 15, position −2). Model and tokenizer are read with
    ``local_files_only=True``; the intervention's parameters stay float32 and states are cast around it.
    """
    from pathlib import Path

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.pricetag import answer_token_ids, encode_with_hf_tokenizer

    if not Path(path).is_dir():
        raise ValueError(f"{path} is not a local model directory (nothing is downloaded)")
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
    if torch_dtype is None:
        raise ValueError(f"unknown dtype {dtype!r}; use float32 or bfloat16")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    import transformers

    # transformers ≥ 4.56 names the argument ``dtype``; older releases ``torch_dtype``
    key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 or \
        tuple(int(x) for x in transformers.__version__.split(".")[:2]) >= (4, 56) else "torch_dtype"
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, **{key: torch_dtype}).to(device)
    model.eval()
    model.requires_grad_(False)
    yes_id, no_id = answer_token_ids(tokenizer, answers)
    return TaskLM(model=model, name=str(path), encode=lambda exs: encode_with_hf_tokenizer(tokenizer, exs),
                  yes_id=yes_id, no_id=no_id, device=device, prompt="alpaca")


def load_task_lm(model: str, device: str = "cpu", dtype: str = "float32", answers: tuple[str, str] = ("Yes", "No"),
                 tiny: Any = None, progress: bool = False) -> tuple[TaskLM, dict[str, Any] | None]:
    """``model`` = "tiny-pricetag" (trained here once and cached; ``tiny`` an engine.tiny_lm.TinyConfig or None
    for the default) or a local Hugging Face directory; returns the task LM and, for the tiny model, its info."""
    from engine.tiny_lm import MODEL_NAME, get_or_train

    if model == MODEL_NAME:
        if device != "cpu" and dtype != "float32":
            raise ValueError("the tiny model runs in float32")
        lm_model, info = get_or_train(tiny, progress=progress)
        return tiny_task_lm(lm_model, MODEL_NAME, device), {k: info.__dict__[k] for k in
                                                            ("path", "config", "accuracy", "eval_size", "steps")}
    if tiny is not None:
        raise ValueError(f"a tiny-model configuration applies to {MODEL_NAME} only")
    return hf_task_lm(model, device=device, dtype=dtype, answers=answers), None


# ---- prepared data at one site --------------------------------------------------------------------
def slice_inputs(inputs: dict[str, torch.Tensor], idx: torch.Tensor | slice) -> dict[str, torch.Tensor]:
    return {k: v[idx] for k, v in inputs.items()}


@dataclass
class SplitData:
    pairs: list[CounterfactualPair]
    base_inputs: dict[str, torch.Tensor]  # (N, T) each, on the device
    base_index: torch.Tensor  # (N,) token index of the site in each base row
    base_states: torch.Tensor  # (N, D) float32 native states of the bases at the site
    source_states: torch.Tensor  # (N, D) float32 native states of the sources at the site
    cl_states: torch.Tensor  # (N, D) float32 native states of the pairs' CL prompts at the site
    source_left: torch.Tensor  # (N,) long, left(source): the value the intervention writes
    target_token: torch.Tensor  # (N,) long, counterfactual answer token id
    cf_yes: torch.Tensor  # (N,) bool, counterfactual label
    base_said_yes: torch.Tensor  # (N,) bool, the unintervened model's answer on the base
    base_yes: torch.Tensor  # (N,) bool, the base's true label
    changed: torch.Tensor  # (N,) bool, counterfactual label differs from the base's true label


@dataclass
class PreparedSite:
    lm: TaskLM
    site: Site
    data: DataConfig
    train: SplitData
    test: SplitData
    class_means: torch.Tensor  # (2, D) native means by left value (row 0: a < l, row 1: a ≥ l)
    reference: NativeReference
    factual_accuracy: float  # on the test bases and sources
    prepare_seconds: float


def _native(lm: TaskLM, site: Site, examples: Sequence[PriceTag], batch: int):
    """(inputs, site index, states (N, D) float32, model said yes (N,) bool) for factual prompts."""
    inputs = {k: v.to(lm.device) for k, v in lm.encode(examples).items()}
    index = token_index(site.position, inputs["attention_mask"])
    states, said = [], []
    with torch.no_grad():
        for i in range(0, len(examples), batch):
            part = slice_inputs(inputs, slice(i, i + batch))
            states.append(capture(lm.model, site, part, index[i:i + batch], stop=True).float())
            logits = lm.last_logits(part)
            said.append(logits[:, lm.yes_id] > logits[:, lm.no_id])
    return inputs, index, torch.cat(states), torch.cat(said)


def _split(lm: TaskLM, site: Site, pairs: list[CounterfactualPair], batch: int) -> tuple[SplitData, torch.Tensor]:
    bases = [p.base for p in pairs]
    sources = [p.source for p in pairs]
    b_in, b_idx, b_states, b_said = _native(lm, site, bases, batch)
    _, _, s_states, s_said = _native(lm, site, sources, batch)
    _, _, cl_states, _ = _native(lm, site, [p.cl_prompt for p in pairs], batch)
    dev = lm.device
    cf = torch.tensor([p.label for p in pairs], device=dev)
    base_yes = torch.tensor([p.base.label for p in pairs], device=dev)
    split = SplitData(
        pairs=pairs, base_inputs=b_in, base_index=b_idx, base_states=b_states, source_states=s_states,
        cl_states=cl_states,
        source_left=torch.tensor([int(p.source.left) for p in pairs], device=dev),
        target_token=torch.where(cf, lm.yes_id, lm.no_id).long(), cf_yes=cf, base_said_yes=b_said,
        base_yes=base_yes, changed=cf != base_yes,
    )
    source_yes = torch.tensor([p.source.label for p in pairs], device=dev)
    correct = torch.cat([b_said == base_yes, s_said == source_yes])
    return split, correct


def prepare(lm: TaskLM, layer: int, position: int, data: DataConfig | None = None) -> PreparedSite:
    """Sample the pairs, collect native site states once (frozen model) and the native reference draws."""
    data = data or DataConfig()
    if data.sampler not in SAMPLERS:
        raise ValueError(f"unknown pair sampler {data.sampler!r}; choose one of {', '.join(SAMPLERS)}")
    sample = SAMPLERS[data.sampler]
    start = time.perf_counter()
    site = site_for(lm.model, layer, position)
    train, _ = _split(lm, site, sample(data.train_pairs, data.data_seed), data.batch_size)
    test, correct = _split(lm, site, sample(data.test_pairs, data.data_seed + 1), data.batch_size)
    pool = torch.cat([train.base_states, train.source_states])
    left = torch.tensor([int(p.base.left) for p in train.pairs] + [int(p.source.left) for p in train.pairs],
                        device=pool.device)
    if not bool((left == 0).any()) or not bool((left == 1).any()):
        raise ValueError("the training prompts hold only one value of the left-boundary variable")
    means = torch.stack([pool[left == 0].mean(0), pool[left == 1].mean(0)])
    native_test = torch.cat([test.base_states, test.source_states]).cpu().numpy()
    reference = NativeReference(native_test, n=data.divergence_n, resamples=data.divergence_resamples,
                                seed=data.data_seed, estimator=data.divergence_estimator)
    return PreparedSite(lm=lm, site=site, data=data, train=train, test=test, class_means=means, reference=reference,
                        factual_accuracy=float(correct.float().mean()),
                        prepare_seconds=round(time.perf_counter() - start, 2))


