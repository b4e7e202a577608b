"""Swap intervention and alignment maps (engine.interventions)."""
from __future__ import annotations

import pytest
import torch

from engine.interventions import FixedMap, LinearMap, make_map, project, swap, variable_mask
from engine.synthetic import DIM


def test_swap_with_identity_map_copies_source_coordinates_exactly():
    gen = torch.Generator().manual_seed(0)
    base, source = torch.randn(7, DIM, generator=gen), torch.randn(7, DIM, generator=gen)
    eye = torch.eye(DIM)
    for variable in (0, 1):
        mask = variable_mask(torch.full((7,), variable), DIM, k=1)
        out = swap(base, source, mask, eye, eye)
        assert torch.equal(out[:, variable], source[:, variable])
        others = [d for d in range(DIM) if d != variable]
        assert torch.equal(out[:, others], base[:, others])


def test_variable_mask_marks_k_dims_per_variable():
    mask = variable_mask(torch.tensor([0, 1]), DIM, k=2)
    assert mask[0].nonzero().flatten().tolist() == [0, 1]
    assert mask[1].nonzero().flatten().tolist() == [2, 3]


def test_swap_with_a_full_mask_returns_the_source_and_an_empty_mask_the_base():
    m = make_map("linear", DIM, seed=3)
    w, w_inv = m.matrices()
    gen = torch.Generator().manual_seed(1)
    base, source = torch.randn(5, DIM, generator=gen), torch.randn(5, DIM, generator=gen)
    with torch.no_grad():
        assert torch.allclose(swap(base, source, torch.ones(DIM), w, w_inv), source, atol=1e-4)
        assert torch.allclose(swap(base, source, torch.zeros(DIM), w, w_inv), base, atol=1e-4)


def test_linear_map_is_invertible_and_projection_is_idempotent():
    m = LinearMap(DIM, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        w, w_inv = m.matrices()
        assert torch.allclose(w @ w_inv, torch.eye(DIM), atol=1e-4)
        h = torch.randn(4, DIM)
        mask = variable_mask(torch.zeros(4, dtype=torch.long), DIM)
        p = project(h, mask, w, w_inv)
        assert torch.allclose(project(p, mask, w, w_inv), p, atol=1e-4)


def test_orthogonality_holds_after_training(tiny_data, tiny_classifier):
    from engine.synthetic import make_interventions
    from engine.training import TrainConfig, train_alignment

    task = tiny_data.subset((0, 2, 3, 4))
    train_set = make_interventions(task, 60, seed=1)
    m = make_map("orthogonal", DIM, seed=0)
    w0 = m.matrices()[0].detach().clone()
    out = train_alignment(tiny_classifier, m, train_set, TrainConfig(loss="das+cl", max_epochs=40, eval_every=5))
    w, w_inv = out.align_map.matrices()
    w = w.detach()
    assert not torch.allclose(w, w0)  # it trained
    assert torch.allclose(w @ w.T, torch.eye(DIM), atol=1e-5)
    assert torch.allclose(w_inv.detach(), w.T)


def test_fixed_map_and_unknown_kind():
    assert torch.allclose(FixedMap(2 * torch.eye(3)).matrices()[1], 0.5 * torch.eye(3))
    with pytest.raises(ValueError, match="Unknown alignment map"):
        make_map("affine", DIM, seed=0)
