"""Intervention sites, named once, as data.

A *site* is the output of one transformer block (the residual stream after the block) at one token
position. Where a block lives depends on the architecture; :data:`BLOCKS` maps a ``config.model_type`` to the
dotted path of its list of blocks (the idea of pyvene's per-architecture module mapping and of
TransformerLens's ``blocks.{L}.hook_resid_post``).

Site names are strings stored with every run and finding::

    gpt2.h.2.out@pos15        block 2 of a GPT-2 model, token index 15
    llama.layers.15.out@pos-2 block 15 of a Llama model, last-but-one token (negative = from the end)

:func:`parse_site` reads such a string back; :func:`resolve_block` finds the module in a loaded model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# model_type -> (dotted path of the block list, short name used in site strings)
BLOCKS: dict[str, tuple[str, str]] = {
    "gpt2": ("transformer.h", "h"),
    "gptj": ("transformer.h", "h"),
    "gpt_neo": ("transformer.h", "h"),
    "gpt_neox": ("gpt_neox.layers", "layers"),
    "llama": ("model.layers", "layers"),
    "mistral": ("model.layers", "layers"),
    "mixtral": ("model.layers", "layers"),
    "qwen2": ("model.layers", "layers"),
    "qwen3": ("model.layers", "layers"),
    "gemma": ("model.layers", "layers"),
    "gemma2": ("model.layers", "layers"),
    "phi": ("model.layers", "layers"),
    "phi3": ("model.layers", "layers"),
    "olmo": ("model.layers", "layers"),
    "opt": ("model.decoder.layers", "layers"),
}

_SITE = re.compile(r"^(?P<arch>[a-z0-9_]+)\.(?P<short>[a-z_]+)\.(?P<layer>\d+)\.out@pos(?P<pos>-?\d+)$")


@dataclass(frozen=True)
class Site:
    """Block ``layer``'s output at token ``position`` (negative positions count from the end)."""

    arch: str
    layer: int
    position: int

    @property
    def block_path(self) -> str:
        return f"{_blocks_of(self.arch)[0]}.{self.layer}"

    @property
    def name(self) -> str:
        return f"{self.arch}.{_blocks_of(self.arch)[1]}.{self.layer}.out@pos{self.position}"

    def __str__(self) -> str:
        return self.name


def _blocks_of(arch: str) -> tuple[str, str]:
    if arch not in BLOCKS:
        raise ValueError(f"no site names for architecture {arch!r}; known: {', '.join(sorted(BLOCKS))}")
    return BLOCKS[arch]


def arch_of(model: Any) -> str:
    """The architecture key of a loaded Hugging Face model (its ``config.model_type``)."""
    arch = getattr(getattr(model, "config", None), "model_type", None)
    if arch is None:
        raise ValueError("the model has no config.model_type; is it a Hugging Face model?")
    _blocks_of(arch)
    return arch


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def block_list(model: Any) -> Any:
    return _get(model, _blocks_of(arch_of(model))[0])


def n_layers(model: Any) -> int:
    return len(block_list(model))


def hidden_size(model: Any) -> int:
    cfg = model.config
    for key in ("hidden_size", "n_embd", "d_model"):
        if getattr(cfg, key, None):
            return int(getattr(cfg, key))
    raise ValueError("cannot tell the model's hidden size from its config")


def site_for(model: Any, layer: int, position: int) -> Site:
    """The site of block ``layer`` at ``position`` in ``model``, checked against its depth."""
    depth = n_layers(model)
    if not 0 <= layer < depth:
        raise ValueError(f"layer {layer} is out of range: the model has {depth} blocks (0..{depth - 1})")
    return Site(arch_of(model), layer, position)


def parse_site(name: str) -> Site:
    m = _SITE.match(name.strip())
    if not m:
        raise ValueError(f"not a site name: {name!r} (expected e.g. 'gpt2.h.2.out@pos15')")
    site = Site(m["arch"], int(m["layer"]), int(m["pos"]))
    if _blocks_of(site.arch)[1] != m["short"]:
        raise ValueError(f"{name!r}: {site.arch} blocks are called {_blocks_of(site.arch)[1]!r}")
    return site


def resolve_block(model: Any, site: Site) -> Any:
    """The ``torch.nn.Module`` whose output is the site's hidden state."""
    if arch_of(model) != site.arch:
        raise ValueError(f"site {site.name} is for {site.arch}, the model is {arch_of(model)}")
    blocks = block_list(model)
    if not 0 <= site.layer < len(blocks):
        raise ValueError(f"layer {site.layer} is out of range: the model has {len(blocks)} blocks")
    return blocks[site.layer]
