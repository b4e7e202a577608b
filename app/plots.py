"""The explorer's plots (plotly): IIA against a divergence, a metric against ε, and forest plots of evidence.

User text reaches plotly labels only through :func:`app.components.plot_text` (plotly reads a few HTML tags).
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from app.components import plot_text

if TYPE_CHECKING:
    from graph.api import FindingRow

PUBLISHED_COLOUR, RUN_COLOUR, HIGHLIGHT_COLOUR = "#1f77b4", "#d62728", "#ff7f0e"
Z95 = 1.959963984540054
MARGIN = {"t": 30, "l": 10, "r": 10, "b": 10}


def divergence_measures(rows: list[FindingRow]) -> list[str]:
    """The measure ids of the divergence (EMD) measurements among ``rows``."""
    return sorted({r.measurement.measure for r in rows if r.measurement.metric == "EMD" and r.measurement.measure})


def iia_measures(rows: list[FindingRow]) -> list[str]:
    """The measure ids of the IIA measurements among ``rows``, named ones first ("" for IIA that names none)."""
    measures = {r.measurement.measure or "" for r in rows if r.measurement.metric == "IIA"}
    return sorted(measures, key=lambda m: (not m, m))


def _setting(row: FindingRow, drop: tuple[str, ...]) -> tuple:
    """What makes two measurements comparable: same source, data, split, method and conditions (the
    protocol among them)."""
    cond = {k: json.dumps(v, sort_keys=True) for k, v in row.measurement.conditions.items() if k not in drop}
    source = tuple(sorted(r.id for r in row.runs)) or tuple(sorted(p.id for p in row.papers))
    m = row.measurement
    return source, m.dataset, m.split, m.method, tuple(sorted(cond.items()))


def _group_of(row: FindingRow) -> str:
    return str(row.measurement.conditions.get("loss") or row.measurement.method or "?")


def _origin(row: FindingRow) -> str:
    return "run" if row.runs else ("published" if row.papers else "other")


def _palette(names: list[str]) -> dict[str, str]:
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
    return {n: colours[i % len(colours)] for i, n in enumerate(names)}


def iia_vs_divergence(rows: list[FindingRow], measure: str, iia_measure: str | None = None):
    """IIA (of ``iia_measure``; "" for IIA that names no measure, None for any) against one divergence measure,
    one point per setting, coloured by loss, with error bars; or None. A setting with IIA under two measures
    gives a point only for the one asked for, never a mix."""
    import plotly.graph_objects as go

    by_setting: dict[tuple, dict[str, FindingRow]] = defaultdict(dict)
    for row in rows:
        m = row.measurement
        if (m.metric == "IIA" and (iia_measure is None or (m.measure or "") == iia_measure)) or (
                m.metric == "EMD" and m.measure == measure):
            by_setting[_setting(row, ())].setdefault(m.metric, row)
    points = [(s["IIA"], s["EMD"]) for s in by_setting.values() if "IIA" in s and "EMD" in s]
    if not points:
        return None
    fig = go.Figure()
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for iia, div in points:
        groups[(_group_of(iia), _origin(iia))].append((iia, div))
    palette = _palette(sorted({loss for loss, _ in groups}))
    for (loss, origin), pts in sorted(groups.items()):
        fig.add_trace(go.Scatter(
            x=[d.measurement.value for _, d in pts], y=[i.measurement.value for i, _ in pts],
            error_x={"type": "data", "array": [d.measurement.err or 0 for _, d in pts], "visible": True},
            error_y={"type": "data", "array": [i.measurement.err or 0 for i, _ in pts], "visible": True},
            mode="markers", name=plot_text(f"{loss} ({origin})"),
            marker={"size": 11, "symbol": "diamond" if origin == "published" else "circle", "color": palette[loss]},
            hovertext=[f"{plot_text(i.node.title, 80)}<br>{plot_text(d.node.title, 80)}" for i, d in pts],
            hoverinfo="text+x+y",
        ))
    iia_label = f"IIA, {iia_measure}" if iia_measure else "IIA"
    fig.update_layout(xaxis_title=f"EMD, {measure} (lower: closer to native)", yaxis_title=plot_text(iia_label),
                      legend_title="loss (source)", height=420, margin=MARGIN)
    return fig


def metric_vs_epsilon(rows: list[FindingRow], metric: str, published: list[FindingRow] | None = None):
    """A metric against the CL weight ε, one line per setting, with error bars; None without a sweep.

    ``published``: published measurements to overlay (dashed, diamonds) — those a run's results were judged
    like for like with, so only comparable curves are drawn together.
    """
    import plotly.graph_objects as go

    def eps_of(row: FindingRow) -> float | None:
        eps = row.measurement.conditions.get("epsilon")
        return eps if isinstance(eps, (int, float)) and math.isfinite(eps) else None

    lines: dict[tuple, list[FindingRow]] = defaultdict(list)
    for row in rows:
        if row.measurement.metric == metric and eps_of(row) is not None:
            lines[(row.measurement.measure, *_setting(row, ("epsilon", "seed")))].append(row)
    lines = {k: v for k, v in lines.items() if len({eps_of(r) for r in v}) >= 2}
    if not lines:
        return None
    fig = go.Figure()
    for key, pts in sorted(lines.items(), key=lambda kv: str(kv[0])):
        pts.sort(key=eps_of)
        measure, _, _, split, method, cond = key
        cond = dict(cond)
        name = " · ".join(x for x in (_group_of(pts[0]), method, split, cond.get("map", "").strip('"'),
                                      measure if metric != "IIA" else measure or None, _origin(pts[0])) if x)
        fig.add_trace(go.Scatter(
            x=[eps_of(r) for r in pts], y=[r.measurement.value for r in pts],
            error_y={"type": "data", "array": [r.measurement.err or 0 for r in pts], "visible": True},
            mode="lines+markers", name=plot_text(name),
            hovertext=[plot_text(r.node.title, 90) for r in pts], hoverinfo="text+x+y",
        ))
    overlay = sorted((r for r in published or [] if r.measurement.metric == metric and eps_of(r) is not None),
                     key=eps_of)
    if overlay:
        fig.add_trace(go.Scatter(
            x=[eps_of(r) for r in overlay], y=[r.measurement.value for r in overlay],
            error_y={"type": "data", "array": [r.measurement.err or 0 for r in overlay], "visible": True},
            mode="lines+markers", name="published (like for like)", line={"dash": "dash", "color": PUBLISHED_COLOUR},
            marker={"symbol": "diamond", "size": 10, "color": PUBLISHED_COLOUR},
            hovertext=[plot_text(r.node.title, 90) for r in overlay], hoverinfo="text+x+y",
        ))
    fig.update_layout(xaxis_title="ε (weight of the CL loss)", yaxis_title=metric, height=420, margin=MARGIN)
    return fig


# ---- forest plots ------------------------------------------------------------------------------------
def _label(m: dict[str, Any]) -> str:
    s = m["source"]
    if s["kind"] == "run":
        seeds = s.get("seeds")
        seeds = f" · seeds {seeds[0]}–{seeds[-1]}" if isinstance(seeds, list) and len(seeds) > 1 else (
            f" · seed {seeds[0]}" if isinstance(seeds, list) and seeds else "")
        return f"run · {s.get('protocol') or 'protocol ?'}{seeds} · {s['id'].removeprefix('run:')[:28]}"
    if s["kind"] == "paper":
        return f"published · {s['title'][:34]}" + (f" ({s['year']})" if s.get("year") else "")
    return f"reported · {m['title'][:40]}"


def _diamond(fig, y: float, est: float, se: float, name: str, colour: str) -> None:
    import plotly.graph_objects as go

    lo, hi = est - Z95 * se, est + Z95 * se
    fig.add_trace(go.Scatter(x=[lo, est, hi, est, lo], y=[y, y + 0.32, y, y - 0.32, y], fill="toself", mode="lines",
                             line={"color": colour}, fillcolor=colour, name=name, hoverinfo="text",
                             hovertext=f"{name}: {est:.4g} [{lo:.4g}, {hi:.4g}]"))


FOREST_ROWS = 30


def forest_rows(group: dict[str, Any], highlight: frozenset[str] = frozenset(),
                limit: int = FOREST_ROWS) -> list[dict[str, Any]]:
    """The measurements a forest plot draws, in the group's order: all of them up to ``limit``; beyond it the
    published ones, the highlighted ones and the most precise of the rest (smallest SE) up to ``limit``. The
    pooled estimates always use every measurement."""
    ms = group["measurements"]
    if len(ms) <= limit:
        return ms
    keep = {i for i, m in enumerate(ms) if m["origin"] == "published" or m["finding"] in highlight}
    rest = sorted((i for i in range(len(ms)) if i not in keep),
                  key=lambda i: (ms[i]["se"] is None, ms[i]["se"] or 0.0, i))
    keep.update(rest[:max(0, limit - len(keep))])
    return [ms[i] for i in sorted(keep)]


def forest(group: dict[str, Any], highlight: frozenset[str] = frozenset(), limit: int = FOREST_ROWS):
    """A forest plot of one evidence group (:func:`graph.evidence.evidence`): each measurement as a point with
    its 95 % interval (± 1.96 SE; no bar where the error is not an SE, an SD with n, or a 95 % half-width),
    published numbers as blue diamonds and runs as red circles (``highlight``: findings drawn in orange), the
    estimator's floor band where the runs measured one, and the pooled estimates (of every measurement) as
    diamonds. A group of more than ``limit`` measurements draws :func:`forest_rows`."""
    import plotly.graph_objects as go

    ms = forest_rows(group, highlight, limit)
    pooled = group.get("pooled")
    n_rows = len(ms) + (2 if pooled else 0)
    y_of = {i: n_rows - i for i in range(len(ms))}
    fig = go.Figure()
    kinds = (("published", PUBLISHED_COLOUR, "diamond"), ("run", RUN_COLOUR, "circle"),
             ("this run", HIGHLIGHT_COLOUR, "circle"))
    for name, colour, symbol in kinds:
        idx = [i for i, m in enumerate(ms) if (m["finding"] in highlight) == (name == "this run")
               and (name == "this run" or m["origin"] == name)]
        if not idx:
            continue
        fig.add_trace(go.Scatter(
            x=[ms[i]["value"] for i in idx], y=[y_of[i] for i in idx], mode="markers", name=name,
            marker={"symbol": symbol, "size": 12, "color": colour},
            error_x={"type": "data", "array": [Z95 * ms[i]["se"] if ms[i]["se"] else 0 for i in idx], "visible": True,
                     "color": colour},
            hovertext=[plot_text(f"{ms[i]['title']} — {ms[i]['value']:.4g}"
                                 + (f" ± {ms[i]['err']:.2g} ({ms[i]['err_kind']})" if ms[i]["err"] is not None else ""),
                                 160) for i in idx],
            hoverinfo="text"))
    floors = [m["floor"] for m in ms if m.get("floor") and m["floor"].get("mean") is not None]
    if floors:
        f = floors[0]
        half = 2 * (f.get("sem") or 0)
        fig.add_vrect(x0=max(0.0, f["mean"] - half), x1=f["mean"] + half, fillcolor="#999999", opacity=0.18,
                      line_width=0, annotation_text="estimator's floor (perfect map)", annotation_position="top left")
    ticks, labels = [y_of[i] for i in range(len(ms))], [plot_text(_label(m), 90) for m in ms]
    if pooled:
        f, r = pooled["fixed"], pooled["random"]
        _diamond(fig, 2, f["estimate"], f["se"], "pooled, fixed effect", "#2ca02c")
        _diamond(fig, 1, r["estimate"], r["se"], "pooled, random effects (DL)", "#9467bd")
        ticks += [2, 1]
        labels += [f"pooled · fixed (k={pooled['k']})",
                   f"pooled · random, DL (τ²={r['tau2']:.2g}, I²={100 * r['i2']:.0f}%)"]
    q = group["quantity"]
    fig.update_yaxes(tickvals=ticks, ticktext=labels, range=[0.4, n_rows + 0.6])
    fig.update_layout(height=140 + 38 * n_rows, margin={**MARGIN, "t": 50}, showlegend=True,
                      legend={"orientation": "h", "x": 0, "y": 1, "yanchor": "bottom"},  # above: clear of the axis
                      xaxis_title=plot_text(f"{q['metric']} ({q['measure'] or 'measure not stated'}), 95 % intervals"))
    return fig
