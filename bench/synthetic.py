"""A synthetic research graph at field scale: 100k nodes of every kind, 1M typed edges, measurements.

Text is research-style and varied (methods, effects, settings, datasets, quantities with errors);
edges follow the vocabulary with heavy-tailed popularity, so some authors, categories, methods and
datasets carry thousands of edges (the pages that must stay fast). Everything is seeded.

    from bench.synthetic import generate
    nodes, edges = generate(100_000, 1_000_000)   # node dicts with ids; (source, type, target, attrs) tuples

:func:`vectors` gives stand-in embeddings: encoding 100k texts with MiniLM takes far too long on a
small CPU, so the benchmark stores random unit vectors (2% planted near-copies, from
:func:`bench.similarity.unit_vectors`) under each node's real text hash, and uses the real model only
for query embeddings.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# share of nodes per kind (sums to 1)
KIND_SHARE = {"paper": 0.22, "author": 0.18, "category": 0.006, "claim": 0.14, "finding": 0.38, "run": 0.05,
              "dataset": 0.012, "method": 0.01, "metric": 0.002}
# edge type -> (source kinds, target kinds, share of edges, Zipf exponent of target popularity)
EDGE_PLAN: dict[str, tuple[tuple[str, ...], tuple[str, ...], float, float]] = {
    "authored_by": (("paper",), ("author",), 0.11, 0.8),
    "in_category": (("paper",), ("category",), 0.09, 1.0),
    "extracted_from": (("finding", "claim"), ("paper",), 0.052, 0.6),
    "supports": (("finding",), ("claim",), 0.12, 0.7),
    "contradicts": (("finding",), ("claim",), 0.03, 0.7),
    "associated_with": (("finding", "claim"), ("finding", "claim"), 0.15, 0.5),
    "replicates": (("finding",), ("finding",), 0.02, 0.5),
    "fails_to_replicate": (("finding",), ("finding",), 0.008, 0.5),
    "produced_by": (("finding",), ("run",), 0.025, 0.3),
    "uses_method": (("finding", "run", "paper"), ("method",), 0.14, 1.0),
    "uses_dataset": (("finding", "run", "paper"), ("dataset",), 0.11, 1.0),
    "measures": (("finding",), ("metric",), 0.06, 1.1),
    "listed_similar": (("paper", "finding"), ("paper", "finding"), 0.085, 0.4),
}

_METHODS = ["DAS", "Boundless DAS", "the CL loss", "DAS+CL", "activation patching", "a linear probe",
            "sparse autoencoders", "causal scrubbing", "path patching", "an orthogonal alignment map",
            "attribution patching", "distributed alignment search", "logit lens", "tuned lens",
            "steering vectors", "ablation", "mean ablation", "resample ablation", "a rotated subspace",
            "integrated gradients", "circuit discovery", "transcoders", "crosscoders", "a causal abstraction"]
_EFFECTS = ["achieves an IIA of {v:.3f}±{e:.3f}", "reduces EMD along feature dimensions to {v:.3f}±{e:.3f}",
            "keeps interchange intervention accuracy near {v:.2f}", "increases divergence by {v:.2f}±{e:.2f}",
            "transfers to held-out partitions with accuracy {v:.3f}±{e:.3f}",
            "recovers {p}% of the logit difference", "fails to separate the two variables",
            "finds a one-dimensional subspace for the variable", "leaves the base behaviour unchanged",
            "produces out-of-distribution representations", "matches the published result"]
_SETTINGS = ["on the synthetic 10-class task", "in Boundless DAS on a 7B LLM", "at layer {l} of GPT-2 small",
             "on the Price Tagging task", "under the og_holdouts partition", "across {s} seeds",
             "on the inner_square split", "for small loss weights epsilon", "in a 4-layer transformer",
             "on indirect object identification", "on greater-than comparisons", "in Pythia-{z}M",
             "on MNIST digit parity", "for entity binding", "on modular addition"]
_TOPICS = ["causal interventions", "representation divergence", "interchange interventions", "feature geometry",
           "superposition", "linear representations", "mechanistic interpretability", "circuit analysis",
           "probing classifiers", "counterfactual latents", "alignment search", "model editing",
           "distribution shift of activations", "faithfulness metrics", "polysemantic neurons",
           "attention heads", "residual stream", "optimal transport", "causal abstraction", "sparse dictionaries"]
_TITLE_FORMS = ["{A} for {b}", "On {b} and {c}", "{A}: what {m} reveals", "Revisiting {b} with {m}",
                "When {m} meets {b}", "Towards faithful {b}", "{A} in large language models",
                "A study of {b} under {c}", "Measuring {b}", "{A} without {c}"]
_FIRST = ["Ada", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jun", "Kira", "Luca", "Mei",
          "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Viktor", "Wen", "Xavi", "Yara", "Zoe"]
_LAST = ["Grant", "Han", "Tartaglini", "Potts", "Geiger", "Wu", "Icard", "Goodman", "Nanda", "Olah", "Conmy",
         "Meng", "Belinkov", "Elhage", "Marks", "Templeton", "Turner", "Zhang", "Kumar", "Silva", "Novak",
         "Okafor", "Larsen", "Moreau", "Tanaka", "Rossi", "Ivanova", "Haddad", "Cohen", "Park"]
_METRICS = ["IIA", "EMD", "accuracy", "sinkhorn_divergence", "loss", "AUC", "F1", "logit_diff", "KL", "faithfulness"]


def _pick(rng: np.random.Generator, items: list[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _sentence(rng: np.random.Generator) -> str:
    m, e, s = _pick(rng, _METHODS), _pick(rng, _EFFECTS), _pick(rng, _SETTINGS)
    v = float(rng.uniform(0, 1))
    return (f"{m[0].upper()}{m[1:]} "
            f"{e.format(v=v, e=float(rng.uniform(0.0005, 0.01)), p=int(rng.integers(30, 99)))} "
            f"{s.format(l=int(rng.integers(0, 12)), s=int(rng.integers(2, 10)), z=int(rng.choice([70, 160, 410])))}")


def _paper_title(rng: np.random.Generator) -> str:
    b, c = _pick(rng, _TOPICS), _pick(rng, _TOPICS)
    form = _pick(rng, _TITLE_FORMS)
    return form.format(A=b[0].upper() + b[1:], b=b, c=c, m=_pick(rng, _METHODS))


def _texts(kind: str, k: int, rng: np.random.Generator) -> tuple[str, str, dict[str, Any], list[dict]]:
    """(title, description, attrs, measurements) of the k-th node of ``kind``."""
    if kind == "paper":
        desc = " ".join(_sentence(rng) + "." for _ in range(int(rng.integers(2, 5))))
        return (f"{_paper_title(rng)} ({k})", f"We study {_pick(rng, _TOPICS)}. {desc}",
                {"year": int(rng.integers(2015, 2026)), "citations": int(rng.zipf(1.6) - 1)}, [])
    if kind == "author":
        return f"{_pick(rng, _FIRST)} {_pick(rng, _LAST)} {k}", "", {}, []
    if kind == "category":
        return f"{_pick(rng, _TOPICS).title()} / area {k}", "", {}, []
    if kind == "claim":
        return (f"{_pick(rng, _METHODS).capitalize()} {_pick(rng, ['does not', 'can', 'reliably', 'rarely'])} "
                f"explain {_pick(rng, _TOPICS)} ({k})", _sentence(rng) + ".", {}, [])
    if kind == "finding":
        value, err = float(rng.uniform(0, 1)), float(rng.uniform(0.0005, 0.02))
        metric = _pick(rng, _METRICS)
        title = f"{_sentence(rng)} #{k}"
        meas = [{"metric": metric, "value": round(value, 4), "err": round(err, 4),
                 "err_kind": _pick(rng, ["std", "sem", "ci95"]), "n": int(rng.integers(2, 20)),
                 "dataset": _pick(rng, ["synthetic 10-class", "Price Tagging", "IOI", "MNIST"]),
                 "method": _pick(rng, ["DAS", "CL", "DAS+CL", "probe"]),
                 "conditions": {"seed_count": int(rng.integers(1, 10))}}]
        return title, _sentence(rng) + ". " + _sentence(rng) + ".", {}, meas
    if kind == "run":
        return (f"run {k}: {_pick(rng, _METHODS)} {_pick(rng, _SETTINGS).format(l=3, s=5, z=70)}", "",
                {"status": _pick(rng, ["finished", "finished", "failed"]), "duration_s": float(rng.uniform(5, 900)),
                 "config": {"seed": int(rng.integers(0, 100))}}, [])
    if kind == "dataset":
        return f"{_pick(rng, _TOPICS).title()} dataset v{k}", "A benchmark for " + _pick(rng, _TOPICS) + ".", {}, []
    if kind == "method":
        return f"{_pick(rng, _METHODS)} variant {k}", "A method for " + _pick(rng, _TOPICS) + ".", {}, []
    return f"{_pick(rng, _METRICS)} metric {k}", "", {}, []


def kind_counts(n: int) -> dict[str, int]:
    counts = {k: max(2, int(round(n * share))) for k, share in KIND_SHARE.items()}
    counts["finding"] += n - sum(counts.values())
    return counts


def generate(n_nodes: int = 100_000, n_edges: int = 1_000_000,
             seed: int = 0) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, dict]]]:
    """Node dicts (with ids; findings carry a measurement) and unique, vocabulary-valid edges."""
    rng = np.random.default_rng(seed)
    counts = kind_counts(n_nodes)
    nodes: list[dict[str, Any]] = []
    pools: dict[str, list[int]] = {}
    for kind, count in counts.items():
        pools[kind] = list(range(len(nodes), len(nodes) + count))
        for k in range(count):
            title, desc, attrs, meas = _texts(kind, k, rng)
            nodes.append({"id": f"{kind}:{kind}-{k}", "kind": kind, "title": title, "description": desc,
                          "attrs": attrs, "source": {"document": "synthetic"}, "measurements": meas})
    ids = [x["id"] for x in nodes]
    edges: list[tuple[str, str, str, dict]] = []
    # a category taxonomy first (each non-root category under an earlier one)
    cats = pools["category"]
    for pos in range(10, len(cats)):
        edges.append((ids[cats[pos]], "subcategory_of", ids[cats[int(rng.integers(0, pos))]], {}))
    budget = n_edges - len(edges)
    shares = {t: plan[2] for t, plan in EDGE_PLAN.items()}
    total = sum(shares.values())
    want = {t: int(budget * s / total) for t, s in shares.items()}
    want["associated_with"] += budget - sum(want.values())
    for etype, (src_kinds, dst_kinds, _, zipf) in EDGE_PLAN.items():
        src_pool = np.array([i for k in src_kinds for i in pools[k]], dtype=np.int64)
        dst_pool = np.array([i for k in dst_kinds for i in pools[k]], dtype=np.int64)
        weights = 1.0 / np.arange(1, len(dst_pool) + 1) ** zipf
        weights /= weights.sum()
        dst_order = rng.permutation(dst_pool)  # which targets are popular is random
        capacity = len(src_pool) * len(dst_pool)
        need = min(want[etype], capacity // 2)
        chosen = np.empty(0, dtype=np.int64)
        while len(chosen) < need:
            m = int((need - len(chosen)) * 1.3) + 64
            s = rng.choice(src_pool, m)
            d = dst_order[rng.choice(len(dst_pool), m, p=weights)]
            keys = s * n_nodes + d
            keys = keys[s != d]
            merged = np.concatenate([chosen, keys])
            _, first = np.unique(merged, return_index=True)
            chosen = merged[np.sort(first)][:need]
        for key in chosen.tolist():
            a, b = divmod(key, n_nodes)
            attrs: dict[str, Any] = {}
            if etype == "in_category":
                attrs = {"confidence": round(float(rng.uniform(0.05, 1.0)), 2)}
            elif etype == "listed_similar":
                attrs = {"score": round(float(rng.uniform(0.5, 0.95)), 3)}
            edges.append((ids[a], etype, ids[b], attrs))
    return nodes, edges


def vectors(nodes: list[dict[str, Any]], seed: int = 0) -> list[tuple[str, bytes, str]]:
    """Stand-in vectors (random unit rows, 2% planted near-copies) stored under each node's real text hash,
    so the graph counts as fully embedded."""
    from bench.similarity import unit_vectors
    from graph.embeddings import node_text, text_hash

    m = unit_vectors(len(nodes), seed=seed).astype("<f4")
    return [(x["id"], m[i].tobytes(), text_hash(node_text(x["title"], x["description"])))
            for i, x in enumerate(nodes)]
