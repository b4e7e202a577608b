"""Hooks at a named site: identity leaves outputs unchanged; replacement is local and removed afterwards."""
from __future__ import annotations

import pytest
import torch

from engine.boundless import BoundlessIntervention, interchange
from engine.hooks import capture, replacing, token_index
from engine.sites import BLOCKS, Site, arch_of, parse_site, resolve_block, site_for


def _ids(n: int = 6, t: int = 16, vocab: int = 18) -> dict[str, torch.Tensor]:
    ids = torch.randint(1, vocab, (n, t), generator=torch.Generator().manual_seed(1))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def test_site_names_round_trip(tiny_gpt2, tiny_llama):
    s = site_for(tiny_gpt2, 1, 14)
    assert s.name == "gpt2.h.1.out@pos14" and parse_site(s.name) == s
    t = site_for(tiny_llama, 0, -2)
    assert t.name == "llama.layers.0.out@pos-2" and parse_site(t.name) == t
    assert resolve_block(tiny_gpt2, s) is tiny_gpt2.transformer.h[1]
    assert resolve_block(tiny_llama, t) is tiny_llama.model.layers[0]
    assert arch_of(tiny_llama) == "llama" and "mistral" in BLOCKS
    with pytest.raises(ValueError):
        site_for(tiny_gpt2, 2, 0)
    with pytest.raises(ValueError):
        parse_site("gpt2.layers.1.out@pos3")
    with pytest.raises(ValueError):
        resolve_block(tiny_gpt2, Site("llama", 0, 0))


def test_identity_intervention_leaves_output_unchanged(tiny_model):
    inputs = _ids()
    with torch.no_grad():
        ref = tiny_model(**inputs).logits
        site = site_for(tiny_model, 1, 10)
        index = token_index(site.position, inputs["attention_mask"])
        with replacing(tiny_model, site, index, lambda h: h):
            same = tiny_model(**inputs).logits
        # a Boundless interchange whose source is the base itself is the identity too, whatever R and mask
        iv = BoundlessIntervention(32)
        rot, mask = iv.rotation(), iv.mask(0.5)
        with replacing(tiny_model, site, index, lambda h: interchange(h, h, rot, mask)):
            swapped = tiny_model(**inputs).logits
        after = tiny_model(**inputs).logits
    assert torch.equal(same, ref)
    torch.testing.assert_close(swapped, ref, atol=1e-5, rtol=1e-5)
    assert torch.equal(after, ref)  # the hook is gone
    assert not any(p.requires_grad for p in tiny_model.parameters())


def test_replacement_is_local_and_causal(tiny_model):
    inputs = _ids()
    site = site_for(tiny_model, 0, 8)
    index = token_index(site.position, inputs["attention_mask"])
    with torch.no_grad():
        ref = tiny_model(**inputs).logits
        with replacing(tiny_model, site, index, lambda h: h + 3.0):
            out = tiny_model(**inputs).logits
    assert torch.equal(out[:, :8], ref[:, :8])  # earlier positions cannot see it
    assert not torch.allclose(out[:, 8:], ref[:, 8:])


def test_capture_matches_hidden_states_of_an_inner_block(tiny_model):
    inputs = _ids()
    site = site_for(tiny_model, 0, 5)  # block 0: hidden_states[1] (the last entry is after the final norm)
    with torch.no_grad():
        states = capture(tiny_model, site, inputs, token_index(5, inputs["attention_mask"]))
        full = tiny_model(**inputs, output_hidden_states=True).hidden_states
    torch.testing.assert_close(states, full[1][:, 5])


def test_hook_removed_when_the_body_raises(tiny_gpt2):
    inputs = _ids()
    site = site_for(tiny_gpt2, 0, 3)
    before = dict(tiny_gpt2.transformer.h[0]._forward_hooks)  # transformers may keep its own capture hooks
    with pytest.raises(RuntimeError):
        with replacing(tiny_gpt2, site, token_index(3, inputs["attention_mask"]), lambda h: h * 0):
            raise RuntimeError("boom")
    assert dict(tiny_gpt2.transformer.h[0]._forward_hooks) == before


def test_token_index_with_left_padding():
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert token_index(-2, mask).tolist() == [3, 3]
    assert token_index(0, mask).tolist() == [2, 0]
    with pytest.raises(ValueError):
        token_index(4, mask)
