"""Training losses for alignment maps: behavioural DAS, counterfactual-latent (CL), and DAS+CL.

**Behavioural DAS** (:func:`das_loss`) trains the alignment map W so the frozen model, run from the
intervened vector h̃ (see :mod:`engine.interventions`), predicts the counterfactual class: cross-entropy of
classifier(h̃) against it. It only looks at the output, so nothing stops h̃ from leaving the region where
native vectors live — the *divergent representations* of Grant, Han, Tartaglini & Potts, "Addressing
divergent representations from causal interventions on neural networks" (arXiv 2511.04638).

**Counterfactual-latent loss** (:func:`cl_loss`, the paper's CL) pulls the intervened vector toward where
a native vector with the counterfactual value would lie. Each intervention is assigned to the variable it
swaps; its target c is the mean of the task's native vectors whose value of that variable equals the
intervened (source) value. Both h̃ and c are projected onto that variable's subspace — through W, other dims
zeroed, back through W⁻¹: P(v) = ((v W) ⊙ m) W⁻¹ — and the projected target is detached:

    L_CL = mean((P(h̃) − P(c))²) + mean(1 − cos(P(h̃), P(c))),

the first mean over all n·D entries, the second over the n interventions. Since (h̃ W) ⊙ m = (h_src W) ⊙ m,
P(h̃) = P(h_src): L_CL asks that the variable's subspace hold the variable's value and little else (the
source's coordinate should sit at its value's mean), which is what keeps swaps on the native manifold.

**DAS+CL** (:func:`total_loss` with ``loss="das+cl"``) is CE + ε·L_CL; ε is the *CL weight* (the paper used
ε = 100 on the synthetic task; at ε = 1 the sum behaves like DAS). ``loss="cl"`` trains on L_CL alone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.interventions import project

LOSSES = ("das", "cl", "das+cl")
DEFAULT_CL_WEIGHT = 100.0


def das_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of logits (n, classes) against counterfactual classes target (n,) → scalar."""
    return F.cross_entropy(logits, target)


def cl_loss(intervened: torch.Tensor, cl_target: torch.Tensor, mask: torch.Tensor, w: torch.Tensor,
            w_inv: torch.Tensor) -> torch.Tensor:
    """Counterfactual-latent loss → scalar.

    intervened (n, D): h̃; cl_target (n, D): c, the native mean for the intervened value; mask (n, D): the
    swapped variable's dims; w, w_inv (D, D). Zero when P(h̃) = P(c).
    """
    p_int = project(intervened, mask, w, w_inv)
    p_tgt = project(cl_target, mask, w, w_inv).detach()
    mse = ((p_int - p_tgt) ** 2).mean()
    cos = F.cosine_similarity(p_int, p_tgt, dim=-1, eps=1e-8)
    return mse + (1.0 - cos).mean()


def total_loss(loss: str, logits: torch.Tensor, target: torch.Tensor, intervened: torch.Tensor,
               cl_target: torch.Tensor, mask: torch.Tensor, w: torch.Tensor, w_inv: torch.Tensor,
               cl_weight: float = DEFAULT_CL_WEIGHT) -> torch.Tensor:
    """The training objective named by ``loss``: "das" → CE; "cl" → L_CL; "das+cl" → CE + cl_weight·L_CL."""
    if loss == "das":
        return das_loss(logits, target)
    if loss == "cl":
        return cl_loss(intervened, cl_target, mask, w, w_inv)
    if loss == "das+cl":
        return das_loss(logits, target) + cl_weight * cl_loss(intervened, cl_target, mask, w, w_inv)
    raise ValueError(f"Unknown loss {loss!r}; choose one of {', '.join(LOSSES)}.")
