"""Forward hooks that read or replace a block's hidden state at one token position.

Nothing here changes a model's weights: a hook is registered on the block named by a
:class:`engine.sites.Site`, rewrites the block's output at one position per row for the duration of a
``with`` block, and is removed on exit (also when the body raises).

Shapes: block output ``(B, T, D)``; per-row token indices ``(B,)``; the state at the site ``(B, D)``.
Blocks that return a tuple (older ``transformers``) have their first element rewritten.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from engine.sites import Site, resolve_block


def token_index(position: int, attention_mask: torch.Tensor) -> torch.Tensor:
    """Per-row index (B,) of ``position`` in left-padded rows (mask (B, T), 1 on real tokens).

    A negative position counts from the end (−1 is the last token in every row); a non-negative one
    counts from each row's first real token.
    """
    b, t = attention_mask.shape
    if position < 0:
        if -position > t:
            raise ValueError(f"position {position} is before the start of a {t}-token prompt")
        return torch.full((b,), t + position, dtype=torch.long, device=attention_mask.device)
    pad = t - attention_mask.long().sum(-1)
    idx = pad + position
    if bool((idx >= t).any()):
        raise ValueError(f"position {position} is past the end of a prompt")
    return idx


def _split(output: Any) -> tuple[torch.Tensor, Callable[[torch.Tensor], Any]]:
    if isinstance(output, torch.Tensor):
        return output, lambda h: h
    if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
        return output[0], lambda h: (h, *output[1:])
    raise TypeError(f"cannot find the hidden state in a block output of type {type(output).__name__}")


@contextmanager
def replacing(model: Any, site: Site, index: torch.Tensor,
              fn: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[None]:
    """While active, the site's state h (B, D) at rows' ``index`` (B,) is replaced by ``fn(h)`` (B, D).

    The rest of the block output is untouched; the replacement is out of place, so gradients flow through
    ``fn`` (e.g. into a rotation) and not into the model's weights unless they require grad.
    """
    block = resolve_block(model, site)

    def hook(_module, _inputs, output):
        hidden, rebuild = _split(output)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        idx = index.to(hidden.device)
        new = fn(hidden[rows, idx]).to(hidden.dtype)
        return rebuild(hidden.index_put((rows, idx), new))

    handle = block.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class _Captured(Exception):
    """Raised by a capture hook to stop the forward pass once the site has been read."""


def capture(model: Any, site: Site, inputs: dict[str, torch.Tensor], index: torch.Tensor,
            stop: bool = True) -> torch.Tensor:
    """The site's state (B, D) for ``inputs``; with ``stop`` the later blocks are not run."""
    block = resolve_block(model, site)
    store: dict[str, torch.Tensor] = {}

    def hook(_module, _inputs, output):
        hidden, _ = _split(output)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        store["h"] = hidden[rows, index.to(hidden.device)]
        if stop:
            raise _Captured

    handle = block.register_forward_hook(hook)
    try:
        model(**inputs)
    except _Captured:
        pass
    finally:
        handle.remove()
    if "h" not in store:
        raise RuntimeError(f"the forward pass never reached {site.name}")
    return store["h"]
