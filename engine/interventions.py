"""Alignment maps and the interchange (swap) intervention of Distributed Alignment Search (DAS).

DAS (Geiger, Wu, Potts, Icard & Goodman, "Finding alignments between interpretable causal variables and
distributed neural representations", 2023) asks whether a high-level causal variable lives in a linear
subspace of a hidden representation h (row vectors, shape (n, D)). It learns an invertible alignment map W
(D × D): in the new coordinates ``h W`` variable x owns dims [0, k) and variable y dims [k, 2k). An
*interchange intervention* on variable v takes a base input and a source input and writes the source's
value of v into the base:

    h̃ = [(h_base W) ⊙ (1 − m) + (h_src W) ⊙ m] W⁻¹,        m = 1 on v's dims, 0 elsewhere.

If the model, run from h̃, outputs the counterfactual class — (x_src, y_base) for a swap of x,
(x_base, y_src) for a swap of y — the intervention agrees with the causal model. The share of such
interventions is the interchange-intervention accuracy (IIA, :func:`engine.metrics.iia`). Behavioural DAS
trains W by cross-entropy on the counterfactual class (:mod:`engine.losses`).

Two families of W (Grant, Han, Tartaglini & Potts, arXiv 2511.04638, use both):

- :class:`OrthogonalMap` — a rotation, as in pyvene's rotated-space DAS: ``torch.nn.utils.parametrizations
  .orthogonal`` on a D × D weight (random orthogonal init), W⁻¹ = Wᵀ;
- :class:`LinearMap` — a general invertible map, the one behind the paper's published synthetic runs:
  W = (A Aᵀ + 0.1·I)·diag(s̃), s̃ = tanh(s) + 0.1·sign(tanh(s)); A Aᵀ + 0.1·I is symmetric positive definite
  and |s̃| ≥ 0.1, so W is always invertible; W⁻¹ by ``torch.linalg.inv``. A starts N(0, 1/D), s at 1.

A map builds (W, W⁻¹) once per step (:meth:`AlignmentMap.matrices`) and the caller reuses them for rotating
and rotating back.
"""
from __future__ import annotations

import torch
from torch import nn

MAP_KINDS = ("linear", "orthogonal")


class AlignmentMap(nn.Module):
    """An invertible D × D map. ``matrices()`` → (W (D, D), W⁻¹ (D, D)); coordinates are ``h @ W``."""

    kind: str = ""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class OrthogonalMap(AlignmentMap):
    """A rotation: torch's orthogonal parametrization of a D × D weight; W⁻¹ = Wᵀ."""

    kind = "orthogonal"

    def __init__(self, dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__(dim)
        layer = nn.Linear(dim, dim, bias=False)
        with torch.no_grad():
            q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator))
            layer.weight.copy_(q * torch.sign(torch.diagonal(r))[None, :])  # Haar-random orthogonal
        self.layer = nn.utils.parametrizations.orthogonal(layer)

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.layer.weight
        return w, w.T


class LinearMap(AlignmentMap):
    """General invertible map W = (A Aᵀ + 0.1·I)·diag(tanh(s) + 0.1·sign(tanh(s))); W⁻¹ = linalg.inv(W)."""

    kind = "linear"

    def __init__(self, dim: int, generator: torch.Generator | None = None, ridge: float = 0.1) -> None:
        super().__init__(dim)
        self.ridge = ridge
        self.A = nn.Parameter(torch.randn(dim, dim, generator=generator) / dim ** 0.5)
        self.s = nn.Parameter(torch.ones(dim))

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.tanh(self.s)
        scale = t + 0.1 * torch.sign(t)
        w = (self.A @ self.A.T + self.ridge * torch.eye(self.dim, dtype=self.A.dtype)) * scale[None, :]
        return w, torch.linalg.inv(w)


class FixedMap(AlignmentMap):
    """A fixed map given as a matrix (for tests and for known-good alignments); W⁻¹ = linalg.inv(W)."""

    kind = "fixed"

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__(w.shape[0])
        self.register_buffer("w", w.clone())
        self.register_buffer("w_inv", torch.linalg.inv(w))

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.w, self.w_inv


def make_map(kind: str, dim: int, seed: int) -> AlignmentMap:
    """A fresh map of ``kind`` ("linear" or "orthogonal"), initialised from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    if kind == "linear":
        return LinearMap(dim, generator=gen)
    if kind == "orthogonal":
        return OrthogonalMap(dim, generator=gen)
    raise ValueError(f"Unknown alignment map {kind!r}; choose one of {', '.join(MAP_KINDS)}.")


def variable_dims(variable: int, k: int) -> range:
    """The aligned coordinates of causal variable ``variable`` (0 = x, 1 = y) with subspace size k."""
    return range(variable * k, (variable + 1) * k)


def variable_mask(variable: torch.Tensor, dim: int, k: int = 1) -> torch.Tensor:
    """m for each intervention: variable (n,) long → (n, D) float, 1 on that variable's dims [v·k, (v+1)·k)."""
    cols = torch.arange(dim)[None, :]
    lo = (variable * k)[:, None]
    return ((cols >= lo) & (cols < lo + k)).float()


def swap(base: torch.Tensor, source: torch.Tensor, mask: torch.Tensor, w: torch.Tensor,
         w_inv: torch.Tensor) -> torch.Tensor:
    """Interchange intervention. base, source (n, D); mask (n, D) or (D,); w, w_inv (D, D) → h̃ (n, D).

    h̃ = [(base W) ⊙ (1 − m) + (source W) ⊙ m] W⁻¹.
    """
    mixed = (base @ w) * (1.0 - mask) + (source @ w) * mask
    return mixed @ w_inv


def project(h: torch.Tensor, mask: torch.Tensor, w: torch.Tensor, w_inv: torch.Tensor) -> torch.Tensor:
    """Component of h in the masked subspace, back in the original basis. h (n, D) → ((h W) ⊙ m) W⁻¹ (n, D)."""
    return ((h @ w) * mask) @ w_inv
