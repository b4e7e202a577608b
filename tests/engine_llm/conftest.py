"""Tiny random causal LMs built from configs (no downloads, no mocks) and seeded RNGs."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _frozen(model):
    model.eval()
    model.requires_grad_(False)
    return model


def make_gpt2(vocab_size: int = 18, n_positions: int = 16):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return _frozen(GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=32, n_layer=2,
                                              n_head=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                              bos_token_id=0, eos_token_id=0)))


def make_llama(vocab_size: int = 18, max_positions: int = 32):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return _frozen(LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                                                num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                                max_position_embeddings=max_positions, bos_token_id=0,
                                                eos_token_id=0, pad_token_id=0)))


@pytest.fixture(scope="module")
def tiny_gpt2():
    return make_gpt2()


@pytest.fixture(scope="module")
def tiny_llama():
    return make_llama()


@pytest.fixture(params=["gpt2", "llama"])
def tiny_model(request, tiny_gpt2, tiny_llama):
    return tiny_gpt2 if request.param == "gpt2" else tiny_llama
