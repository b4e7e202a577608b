"""Rendering helpers the explorer's pages share: the cached graph, safe text, node links, badges, plots.

User text (titles, descriptions, attributes, error messages that quote input) is never trusted as
markup: :func:`md` escapes every Markdown and HTML control character before it reaches
``st.markdown``; tables and JSON views render their cells as plain text. No helper here uses
``unsafe_allow_html``.
"""
from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import streamlit as st

if TYPE_CHECKING:
    from db.records import Node
    from graph.api import Graph

NODE_PAGE = "views/home.py"  # with ?node=<id>: the node page at the root URL
GRAPH_PAGE = "views/graph_view.py"

KIND_ICONS = {
    "paper": ":material/article:", "claim": ":material/campaign:", "finding": ":material/science:",
    "run": ":material/play_circle:", "author": ":material/person:", "category": ":material/sell:",
    "dataset": ":material/database:", "method": ":material/build:", "metric": ":material/straighten:",
}
KIND_COLORS = {  # st.badge colours
    "paper": "blue", "claim": "violet", "finding": "green", "run": "orange", "author": "gray",
    "category": "gray", "dataset": "yellow", "method": "red", "metric": "primary",
}
STATUS_COLORS = {"active": "green", "superseded": "orange", "retracted": "red", "merged": "gray"}
EVIDENCE_COLORS = {"supported": "green", "contested": "orange", "refuted": "red", "untested": "gray"}
EVIDENCE_ICONS = {"supported": ":material/verified:", "contested": ":material/balance:",
                  "refuted": ":material/cancel:", "untested": ":material/help:"}
KIND_PLOT_COLORS = {  # graph view and plots
    "paper": "#1f77b4", "claim": "#9467bd", "finding": "#2ca02c", "run": "#ff7f0e", "author": "#7f7f7f",
    "category": "#bcbd22", "dataset": "#e0b000", "method": "#d62728", "metric": "#17becf",
}


# ---- the store ---------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _graph(db: str, read_only: bool) -> Graph:
    from graph.api import Graph

    return Graph(db or None, read_only=read_only)


def read_only() -> bool:
    """Whether the app was started read-only (``findings app --read-only`` sets ``FINDINGS_READ_ONLY``): then
    no page offers a write, and the database connection itself cannot write."""
    from db.identity import read_only_requested

    return read_only_requested()


def graph() -> Graph:
    """The graph of the database named by ``FINDINGS_DB`` (one per database per server process), writing as
    ``FINDINGS_USER`` (else the OS user of the server), or read-only."""
    return _graph(os.environ.get("FINDINGS_DB", ""), read_only())


# Static page style (no user content): let node links wrap instead of being cut at the column edge.
_STYLE = """<style>
[data-testid="stPageLink"] a { max-width: 100%; height: auto; }
[data-testid="stPageLink"] a span, [data-testid="stPageLink"] a p { white-space: normal; overflow: visible; }
</style>"""


def page_style() -> None:
    st.html(_STYLE)


# ---- safe text ---------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'^@])")


def md(text: Any) -> str:
    """User text as Markdown that renders literally: every control character backslash-escaped,
    line breaks kept, leading indentation dropped (it would start a code block)."""
    lines = str(text if text is not None else "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "  \n".join(_MD_SPECIAL.sub(r"\\\1", line.strip()) for line in lines)


def text(value: Any, *, caption: bool = False) -> None:
    (st.caption if caption else st.markdown)(md(value))


def short(value: str, limit: int = 220) -> str:
    value = " ".join(str(value).split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def plot_text(value: Any, limit: int = 120) -> str:
    """User text for plotly labels and hovers, which understand a few HTML tags: tags become literal text."""
    return short(str(value), limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def node_url(node_id: str) -> str:
    """The shareable URL path of a node page."""
    return "/?node=" + quote(node_id, safe="")


def show_error(message: Any) -> None:
    st.error(md(str(message).splitlines()[0] if str(message) else "error"), icon=":material/error:")


# ---- nodes -------------------------------------------------------------------------------------
def node_link(node: Node, *, label: str | None = None, kind_icon: bool = True) -> None:
    """A link to the node's page (client-side navigation; the target URL is ``/?node=<id>``)."""
    st.page_link(NODE_PAGE, label=md(short(label or node.title or node.id, 300)),
                 icon=KIND_ICONS.get(node.kind) if kind_icon else None, query_params={"node": node.id})


def node_summary(node: Node, *, extra: str = "", description: bool = True) -> None:
    """A node as one link with a caption (kind, status, extra) and the start of its description."""
    node_link(node)
    bits = [node.kind] + ([node.status] if node.status != "active" else []) + ([extra] if extra else [])
    st.caption(md(" · ".join(bits)) + ((" — " + md(short(node.description, 240))) if description and
                                       node.description else ""))


def badges(node: Node, evidence: str | None = None) -> None:
    """Kind and status badges; ``evidence``: a claim's or a published finding's evidence status."""
    with st.container(horizontal=True, gap="small"):
        st.badge(md(node.kind), icon=KIND_ICONS.get(node.kind), color=KIND_COLORS.get(node.kind, "gray"))
        st.badge(md(node.status), color=STATUS_COLORS.get(node.status, "gray"))
        if evidence:
            evidence_badge(evidence)


def evidence_badge(status: str) -> None:
    st.badge(md(f"evidence: {status}"), icon=EVIDENCE_ICONS.get(status), color=EVIDENCE_COLORS.get(status, "gray"))


def kind_options() -> list[str]:
    from graph.vocabulary import NODE_KINDS

    return ["", *NODE_KINDS]


def status_options() -> list[str]:
    from graph.vocabulary import STATUSES

    return ["", *STATUSES]


def any_label(value: str) -> str:
    return value or "any"


def measurement_table(measurements) -> Any:
    """Measurements as a frame: value ± error, its measure and floor, error kind, n, split, method, dataset,
    conditions."""
    import pandas as pd

    return pd.DataFrame([{
        "metric": m.metric,
        "value": value_pm(m.value, m.err),
        "measure": m.measure or "not stated",
        "floor": floor_text(m.floor),
        "error": m.err_kind or "",
        "n": m.n,
        "split": m.split or "",
        "method": m.method or "",
        "dataset": m.dataset or "",
        "conditions": conditions_text(m.conditions),
    } for m in measurements])


def floor_text(floor: dict[str, Any] | None) -> str:
    """An estimator's floor (a perfect intervention, same n) as "0.0043 ± 0.0002", or "" without one."""
    if not floor:
        return ""
    return value_pm(round(floor["mean"], 6), round(floor["sem"], 6) if floor.get("sem") is not None else None)


def value_pm(value: float, err: float | None) -> str:
    return f"{value:g}" if err is None else f"{value:g} ± {err:g}"


def conditions_text(conditions: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v if isinstance(v, (str, int, float)) else json.dumps(v)}"
                     for k, v in sorted((conditions or {}).items()))


def edge_label(edge_type: str, direction: str) -> str:
    return f"{edge_type} →" if direction == "out" else f"← {edge_type}"


def attrs_caption(attrs_list: list[dict[str, Any]]) -> str:
    """A short text for the attributes of the edges tying a neighbour (score, year, confidence…)."""
    bits = []
    for attrs in attrs_list:
        for k, v in attrs.items():
            if k in ("position",):
                continue
            bits.append(f"{k} {v}" if not isinstance(v, bool) else k)
    return ", ".join(dict.fromkeys(bits))


def csv_safe(df):
    """A copy whose text cells cannot run as spreadsheet formulas (a leading = + - @ is quoted)."""
    from pandas.api.types import is_numeric_dtype

    out = df.copy()
    for col in out.columns:
        if not is_numeric_dtype(out[col]):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t")
                                    else v)
    return out


# ---- edge choices for accepting a similarity candidate --------------------------------------------
PREFERRED_EDGES = ("associated_with", "supports", "contradicts", "replicates", "fails_to_replicate", "extracted_from")


def edge_choices(this_kind: str, other_kind: str) -> list[tuple[str, str, bool]]:
    """Typed edges that may join this node and the other: (label, edge type, this node is the source)."""
    from graph.vocabulary import EDGE_TYPES, check_edge

    out = []
    order = [*PREFERRED_EDGES, *[t for t in EDGE_TYPES if t not in PREFERRED_EDGES]]
    for t in order:
        if t in ("listed_similar", "duplicate_of"):
            continue
        for forward in (True, False):
            src, dst = (this_kind, other_kind) if forward else (other_kind, this_kind)
            try:
                check_edge(t, src, dst)
            except ValueError:
                continue
            out.append((f"this {t} it" if forward else f"it {t} this", t, forward))
            if EDGE_TYPES[t].symmetric:
                break
    return out
