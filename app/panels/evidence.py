"""The *Evidence* section of a claim's or a published finding's page, and the *Verdicts* of a run's result:
measurements grouped by quantity, pooled, drawn as forest plots (:mod:`graph.evidence`, :func:`app.plots.forest`)."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import components as c
from app import plots
from graph.evidence import quantity_label


GROUPS_SHOWN = 4  # groups drawn in full; the others are picked one at a time


def load(g, node) -> dict[str, Any] | None:
    """The evidence of a claim or a published finding; None for other nodes (and runs' results)."""
    if node.kind not in ("claim", "finding"):
        return None
    try:
        return g.evidence(node.id)
    except ValueError:
        return None


def counts_text(ev: dict[str, Any]) -> str:
    n = ev["counts"]
    bits = [f"{n['supporting']} supporting", f"{n['contradicting']} contradicting"]
    labels = {"own_paper": "from its own paper (its basis, not a test)", "associated": "associated without stance",
              "replicates": "like-for-like replications", "fails_to_replicate": "failed replications",
              "floor_band": "in the estimator's floor band",
              "not_counted": "not counted (retracted, superseded, merged)"}
    bits += [f"{n[k]} {label}" for k, label in labels.items() if n.get(k)]
    return " · ".join(bits)


def _source(m: dict[str, Any]) -> str:
    s = m["source"]
    if s["kind"] == "run":
        seeds = s.get("seeds")
        return f"run ({s.get('protocol') or 'protocol not stated'}" + (
            f", seeds {', '.join(map(str, seeds))}" if isinstance(seeds, list) else "") + ")"
    if s["kind"] == "paper":
        return "paper: " + c.short(s["title"], 60) + (f" ({s['year']})" if s.get("year") else "")
    return "reported without paper or run"


def _how(m: dict[str, Any]) -> str:
    bits = [m["stance"].replace("_", " ")] if m["stance"] and m["stance"] != "subject" else []
    for v in m["verdicts"]:
        bits.append(v["edge"].replace("_", " ") + (f" (z = {v['z']})" if v.get("z") is not None else "")
                    + (", floor band" if v["floor_band"] else ""))
    if m["at_floor"]:
        bits.append("at its estimator's floor")
    return "; ".join(bits)


def _table(group: dict[str, Any]):
    import pandas as pd

    return pd.DataFrame([{
        "source": _source(m), "value": c.value_pm(m["value"], m["err"]), "error": m["err_kind"] or "", "n": m["n"],
        "SE": m["se"], "bears on it": _how(m), "finding": m["title"], "page": c.node_url(m["finding"]),
    } for m in group["measurements"]])


def pooled_text(p: dict[str, Any]) -> str:
    f, r = p["fixed"], p["random"]
    return (f"Pooled over k = {p['k']}: fixed effect {f['estimate']:.4g} ± {f['se']:.2g} (SE) · random effects "
            f"(DerSimonian–Laird) {r['estimate']:.4g} ± {r['se']:.2g}, "
            f"τ² = {r['tau2']:.3g}, I² = {100 * r['i2']:.0f} %, "
            f"Q = {r['q']:.3g} (p = {r['p']:.3g})")


def show_group(group: dict[str, Any], key: str, highlight: frozenset[str] = frozenset()) -> None:
    st.markdown("**" + c.md(quantity_label(group["quantity"])) + "**")
    st.dataframe(_table(group), hide_index=True, key=f"{key}_table",
                 column_config={"SE": st.column_config.NumberColumn("SE", format="%.3g"),
                                "finding": st.column_config.TextColumn("finding", width="medium"),
                                "page": st.column_config.LinkColumn("page", display_text="open")})
    if group["pooled"]:
        st.caption(c.md(pooled_text(group["pooled"])))
    else:
        st.caption(c.md(f"Not pooled: {group['not_pooled']}"))
    for x in group["excluded"]:
        st.caption(c.md(f"Left out of the pool: {x['finding']}: {x['reason']}"))
    for w in group["warnings"]:
        st.warning(c.md(w), icon=":material/warning:")
    if len(group["measurements"]) >= 2:
        drawn = len(plots.forest_rows(group, highlight))
        if drawn < len(group["measurements"]):
            st.caption(f"The forest plot draws {drawn} of {len(group['measurements'])} measurements: the published "
                       "ones and the most precise runs; the table lists all, and the pool uses every one.")
        st.plotly_chart(plots.forest(group, highlight), key=f"{key}_forest")


def evidence_section(ev: dict[str, Any]) -> None:
    """The evidence of a claim or a published finding: status with its counts, then each group."""
    st.markdown("#### Evidence")
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        c.evidence_badge(ev["status"])
        st.caption(c.md(counts_text(ev)))
    st.caption(c.md(f"Rule: {ev['rule']}. Only like-for-like results count; the README states what each counts."))
    if not ev["groups"] and not ev["unmeasured"]:
        st.caption("No finding supports, contradicts or replicates it yet.")
    groups = ev["groups"]
    for i, group in enumerate(groups[:GROUPS_SHOWN]):
        with st.container(border=True, key=f"evidence_group_{i}"):
            show_group(group, f"ev{i}")
    if len(groups) > GROUPS_SHOWN:  # a claim tested many ways: the rest one at a time, so the page stays quick
        more = list(range(GROUPS_SHOWN, len(groups)))
        pick = st.selectbox(f"{len(more)} more groups", more, key="evidence_more",
                            format_func=lambda i: f"{quantity_label(groups[i]['quantity'])} "
                                                  f"({len(groups[i]['measurements'])} measurements)")
        with st.container(border=True, key="evidence_group_more"):
            show_group(groups[pick], f"ev{pick}")
    if ev["unmeasured"]:
        st.caption("Without a measurement")
        for u in ev["unmeasured"]:
            st.markdown(f"- {c.md(u['stance'] or 'bears on it')}: [{c.md(c.short(u['title'], 160))}]"
                        f"({c.node_url(u['finding'])})")


def verdicts_section(g, node) -> None:
    """A run's result: each published finding it was judged like for like with, as that finding's evidence group
    (this result highlighted among the published number and the other runs)."""
    verdicts = g.verdicts_of([node.id]).get(node.id, [])
    if not verdicts:
        return
    st.markdown("#### Verdicts (like for like)")
    for i, (etype, published, attrs) in enumerate(verdicts):
        ev = load(g, published)
        group = next((grp for grp in (ev or {}).get("groups", [])
                      if any(m["finding"] == node.id for m in grp["measurements"])), None)
        with st.container(border=True, key=f"verdict_{i}"):
            st.markdown(f"**{c.md(etype.replace('_', ' '))}** ")
            c.node_link(published)
            z = f"z = {attrs['z']}" if attrs.get("z") is not None else ""
            st.caption(c.md(f"{z}; rule {attrs.get('rule', '')}" + ("; both within the estimator's floor band: "
                                                                    "indistinguishable from a perfect map"
                                                                    if attrs.get("floor_band") else "")))
            if group is not None:
                show_group(group, f"vd{i}", highlight=frozenset({node.id}))
