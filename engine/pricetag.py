"""Price Tagging (Wu et al. 2023): prompts, the causal model, counterfactual pairs and tokenisation.

The task: "Please say yes only if it costs between {l} and {u} dollars, otherwise no." with the input
"{a} dollars". Sampling follows the paper: width ~ U(2.5, 7.5), l ~ U(0.05, 9.95 − width), u = l + width,
a ~ U(0.01, 9.99), all rounded to two decimals; the label is yes iff l ≤ a ≤ u.

The high-level causal model has two boolean variables, ``left`` = (a ≥ l) and ``right`` = (a ≤ u), and
outputs yes iff both hold. The variable aligned here is ``left`` (the left-boundary check). An interchange
intervention takes a *base* prompt and a *source* prompt and sets the base's ``left`` to the source's, so
the counterfactual label is ``left(source) and right(base)``. Pairs are sampled so that this label is
balanced (half yes, half no); about two thirds of such pairs keep the base's own label, which is why a
no-op intervention already scores well on raw IIA (see :mod:`engine.boundless`).

Two renderings of a prompt:

* a compact token sequence for the small model trained here (:class:`CompactTokenizer`, 18 symbols,
  ``between l and u : a ?``, 16 tokens, the answer read after ``?``), and
* the Alpaca-style prompt of the paper for real instruction-tuned LLMs (:func:`alpaca_prompt`), tokenised
  by the model's own Hugging Face tokenizer with left padding (:func:`encode_with_hf_tokenizer`).

Prices are kept in integer cents so that comparisons are exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

VARIABLES = ("left", "right")


@dataclass(frozen=True)
class PriceTag:
    """One factual prompt, prices in cents."""

    lower: int
    upper: int
    amount: int

    @property
    def left(self) -> bool:
        """The left-boundary check a ≥ l (the aligned variable)."""
        return self.amount >= self.lower

    @property
    def right(self) -> bool:
        """The right-boundary check a ≤ u."""
        return self.amount <= self.upper

    @property
    def label(self) -> bool:
        return self.left and self.right

    def prices(self) -> tuple[str, str, str]:
        return _dollars(self.lower), _dollars(self.upper), _dollars(self.amount)


@dataclass(frozen=True)
class CounterfactualPair:
    """Base and source prompts for an interchange intervention on ``left``."""

    base: PriceTag
    source: PriceTag

    @property
    def label(self) -> bool:
        """The label after setting the base's ``left`` to the source's: left(source) and right(base)."""
        return self.source.left and self.base.right

    @property
    def changes_label(self) -> bool:
        return self.label != self.base.label

    @property
    def cl_prompt(self) -> PriceTag:
        """The paper's "CL prompt" for a lower-bound (``left``) intervention: the source's lower bound, the base's
        upper bound and the base's amount (grantsrb/rep_divergence ``bound_alignment_sampler``). Its native
        state at the site is the CL target of ``--cl-target cl-prompt``."""
        return PriceTag(lower=self.source.lower, upper=self.base.upper, amount=self.base.amount)


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(x: float) -> int:
    return int(round(x * 100))


def sample_pricetag(rng: np.random.Generator) -> PriceTag:
    """One prompt drawn as in the paper (two decimals)."""
    width = rng.uniform(2.5, 7.5)
    lower = rng.uniform(0.05, 9.95 - width)
    amount = rng.uniform(0.01, 9.99)
    lo = _cents(lower)
    return PriceTag(lower=lo, upper=lo + _cents(width), amount=_cents(amount))


def sample_factual(n: int, seed: int) -> list[PriceTag]:
    rng = np.random.default_rng(seed)
    return [sample_pricetag(rng) for _ in range(n)]


def sample_pairs(n: int, seed: int, balanced: bool = True) -> list[CounterfactualPair]:
    """``n`` counterfactual pairs for ``left``; with ``balanced`` exactly ⌊n/2⌋ have counterfactual label no.

    Pairs are drawn independently (base and source each from :func:`sample_pricetag`) and kept while the
    quota for their counterfactual label is open, so the label is balanced and otherwise undistorted.
    """
    if n < 0:
        raise ValueError("the number of pairs cannot be negative")
    rng = np.random.default_rng(seed)
    want = {True: n - n // 2, False: n // 2} if balanced else None
    out: list[CounterfactualPair] = []
    while len(out) < n:
        pair = CounterfactualPair(sample_pricetag(rng), sample_pricetag(rng))
        if want is not None:
            if want[pair.label] == 0:
                continue
            want[pair.label] -= 1
        out.append(pair)
    rng.shuffle(out)  # type: ignore[arg-type]
    return out


def _bounds(rng: np.random.Generator) -> tuple[int, int]:
    """Lower and upper bound in cents, as the paper's config sampler draws and rounds them."""
    width = round(rng.uniform(2.50, 7.50), 2)
    lower = round(rng.uniform(0.05, 9.95 - width), 2)
    return _cents(lower), _cents(lower) + _cents(width)


def _amount_in_region(rng: np.random.Generator, region: int, lower: int, upper: int) -> int:
    """An amount (cents) below the lower bound (region 1), between the bounds (2) or above the upper bound (3)."""
    lo, up = lower / 100, upper / 100
    span = {1: (0.01, lo - 0.01), 2: (lo, up), 3: (up + 0.01, 9.99)}[region]
    return _cents(round(rng.uniform(*span), 2))


# (base region, source region) giving each counterfactual label of a left-boundary interchange
REGION_PAIRS = {True: ((1, 2), (1, 3), (2, 2), (2, 3)), False: ((1, 1), (2, 1), (3, 1), (3, 2), (3, 3))}


def sample_region_pairs(n: int, seed: int) -> list[CounterfactualPair]:
    """The paper's sampler (``lower_bound_alignment_example_sampler``): the counterfactual label is yes or no
    with probability ½, then a (base region, source region) pair giving that label is drawn uniformly, and each
    amount uniformly inside its region (region 1: a < l, 2: l ≤ a ≤ u, 3: a > u)."""
    if n < 0:
        raise ValueError("the number of pairs cannot be negative")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 16]))
    out = []
    for _ in range(n):
        base_bounds, source_bounds = _bounds(rng), _bounds(rng)
        label = bool(rng.integers(2))
        base_region, source_region = REGION_PAIRS[label][rng.integers(len(REGION_PAIRS[label]))]
        base = PriceTag(*base_bounds, _amount_in_region(rng, base_region, *base_bounds))
        source = PriceTag(*source_bounds, _amount_in_region(rng, source_region, *source_bounds))
        out.append(CounterfactualPair(base, source))
    return out


SAMPLERS = {"balanced": sample_pairs, "regions": sample_region_pairs}


# ---- compact tokenisation (the small model) -------------------------------------------------------
class CompactTokenizer:
    """18 symbols: ``<pad>``, digits, ``.``, ``between``, ``and``, ``:``, ``?``, ``yes``, ``no``.

    A prompt is ``between d.dd and d.dd : d.dd ?`` — always 16 tokens, so no padding is needed; the model
    answers ``yes``/``no`` at the last position (index 15, i.e. −1). Token positions:
    0 ``between``, 1–4 l, 5 ``and``, 6–9 u, 10 ``:``, 11–14 a, 15 ``?``.
    """

    vocab: tuple[str, ...] = ("<pad>", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ".", "between", "and", ":",
                              "?", "yes", "no")
    prompt_length = 16
    position_names = ("between", "l0", "l.", "l1", "l2", "and", "u0", "u.", "u1", "u2", ":", "a0", "a.", "a1", "a2",
                      "?")

    def __init__(self) -> None:
        self.index = {tok: i for i, tok in enumerate(self.vocab)}
        self.pad_id = self.index["<pad>"]
        self.yes_id = self.index["yes"]
        self.no_id = self.index["no"]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tokens(self, ex: PriceTag) -> list[str]:
        lo, up, am = ex.prices()
        return ["between", *lo, "and", *up, ":", *am, "?"]

    def encode(self, ex: PriceTag) -> list[int]:
        return [self.index[t] for t in self.tokens(ex)]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.vocab[i] for i in ids)

    def batch(self, examples: Sequence[PriceTag]) -> dict[str, Any]:
        """``input_ids`` and ``attention_mask``, both LongTensor (B, 16)."""
        import torch

        ids = torch.tensor([self.encode(ex) for ex in examples], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


# ---- Alpaca prompt (real LLMs) --------------------------------------------------------------------
ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\nPlease say yes only if it costs between {lower} and {upper} dollars, otherwise no.\n\n"
    "### Input:\n{amount} dollars\n\n### Response:\n"
)


def alpaca_prompt(ex: PriceTag) -> str:
    lo, up, am = ex.prices()
    return ALPACA_TEMPLATE.format(lower=lo, upper=up, amount=am)


def answer_token_ids(tokenizer: Any, words: tuple[str, str] = ("Yes", "No")) -> tuple[int, int]:
    """The first token of each answer word (as the model would write it after ``Response:\\n``)."""
    ids = []
    for w in words:
        enc = tokenizer.encode(w, add_special_tokens=False)
        if not enc:
            raise ValueError(f"the tokenizer encodes {w!r} to no token")
        ids.append(enc[0])
    if ids[0] == ids[1]:
        raise ValueError(f"the answers {words} start with the same token; pick other answer words")
    return ids[0], ids[1]


def encode_with_hf_tokenizer(tokenizer: Any, examples: Sequence[PriceTag]) -> dict[str, Any]:
    """Left-padded ``input_ids``, ``attention_mask`` and ``position_ids`` (B, T) for Alpaca prompts.

    Left padding puts every prompt's last token at index −1, so negative positions (−1 last, −2 last but one,
    the paper's site) address the same token in every row; ``position_ids`` restart at 0 on the first real
    token so padded rows compute exactly what unpadded ones would.
    """
    import torch

    texts = [alpaca_prompt(ex) for ex in examples]
    rows = [tokenizer.encode(t, add_special_tokens=True) for t in texts]
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r):] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return {"input_ids": ids, "attention_mask": mask, "position_ids": pos}
