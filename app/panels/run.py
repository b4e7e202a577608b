"""A run's page: its configuration, protocol, seeds, code version, timing, findings, verdicts and plots."""
from __future__ import annotations

import json
from typing import Any

import streamlit as st

from app import components as c
from app import plots
from app.panels import evidence as ev_panel
from graph.run_owner import abandoned_reason, run_status


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _facts(run) -> list[tuple[str, Any]]:
    a = run.attrs
    config = a.get("config") if isinstance(a.get("config"), dict) else {}
    duration = f"{a['duration_s']:.1f} s" if isinstance(a.get("duration_s"), (int, float)) else None
    return [("status", run_status(a)), ("protocol", config.get("protocol") or a.get("protocol")),
            ("seeds", a.get("seeds")), ("started", a.get("started_at")), ("ended", a.get("ended_at")),
            ("duration", duration), ("code version", a.get("code_version")),
            ("git commit", (a.get("git_commit") or "")[:12] + (" (dirty)" if a.get("git_dirty") else "") or None),
            ("config hash", a.get("config_hash")), ("site", a.get("site")), ("device", a.get("device")),
            ("host · pid", f"{a.get('host')} · {a.get('pid')}" if a.get("host") else None),
            ("findings", a.get("findings"))]


def run_section(g, run) -> None:
    """Everything a run's page shows below its title."""
    a = run.attrs
    facts = [(k, v) for k, v in _facts(run) if v not in (None, "", [])]
    cols = st.columns(4)
    for i, (label, value) in enumerate(facts):
        cols[i % 4].caption(c.md(label))
        cols[i % 4].markdown(c.md(_fmt(value)))
    if run_status(a) == "running":
        st.info("Running: its findings appear when it finishes (reload the page).", icon=":material/hourglass_top:")
    elif run_status(a) == "abandoned":
        st.warning(c.md(f"Abandoned: {a.get('abandoned') or abandoned_reason(a)}. It has no findings; a sweep or "
                        "run of the same configuration runs it again."), icon=":material/link_off:")
    if a.get("error"):
        st.error(c.md(str(a["error"]).splitlines()[0]), icon=":material/error:")
    with st.expander("Configuration", expanded=False):
        st.json(a.get("config", {}), expanded=True)
    if a.get("packages"):
        with st.expander("Package versions"):
            st.json(a["packages"], expanded=True)

    rows = g.finding_rows(run=run.id)
    if not rows:
        return
    verdicts = g.verdicts_of(list({r.node.id for r in rows}))
    labels = g.evidence_labels(list({r.node.id: r.node for r in rows}.values()))
    _findings(rows, labels)
    _plots(g, rows, verdicts)
    _verdict_groups(g, verdicts)


def _findings(rows, labels: dict[str, str]) -> None:
    import pandas as pd

    st.markdown(f"#### Findings ({len({r.node.id for r in rows})})")
    df = pd.DataFrame([{
        "metric": r.measurement.metric, "measure": r.measurement.measure or "",
        "value": c.value_pm(r.measurement.value, r.measurement.err), "floor": c.floor_text(r.measurement.floor),
        "split": r.measurement.split or "", "verdict": labels.get(r.node.id, ""),
        "conditions": c.conditions_text(r.measurement.conditions), "finding": r.node.title,
        "page": c.node_url(r.node.id),
    } for r in rows])
    st.dataframe(df, hide_index=True, key="run_findings",
                 column_config={"finding": st.column_config.TextColumn("finding", width="medium"),
                                "page": st.column_config.LinkColumn("page", display_text="open")})
    st.caption("verdict: like-for-like replication against a published number (same measure and protocol); "
               "not compared: a published number of the same experiment under another measure or protocol "
               "(its page says which and why).")


def _plots(g, rows, verdicts) -> None:
    swept = sorted({r.measurement.metric for r in rows if "epsilon" in r.measurement.conditions})
    if not swept:
        return
    published_ids = sorted({pub.id for vs in verdicts.values() for _, pub, _ in vs})
    published = g.finding_rows_for(published_ids) if published_ids else []
    st.markdown("#### Curves against ε")
    metric = st.selectbox("Metric", swept, key="run_eps_metric", index=swept.index("IIA") if "IIA" in swept else 0)
    fig = plots.metric_vs_epsilon(rows, metric, published)
    if fig is None:
        st.caption("This run measured one ε only.")
        return
    if st.toggle("log ε axis (hides ε = 0)", key="run_eps_log"):
        fig.update_xaxes(type="log")
    st.plotly_chart(fig, key="run_eps")
    st.caption("Each line is one measure and setting; dashed diamonds are the published numbers this run was "
               "judged like for like with" if published else
               "No published curve is comparable like for like (same measure, protocol and experiment); none is "
               "drawn.")


def _verdict_groups(g, verdicts) -> None:
    mine = frozenset(verdicts)
    targets: dict[str, Any] = {}
    for vs in verdicts.values():
        for _, pub, _ in vs:
            targets.setdefault(pub.id, pub)
    if not targets:
        return
    st.markdown("#### Verdicts: this run beside the published numbers and the other runs")
    st.caption("Each published number this run was compared with, its group of like-for-like measurements pooled; "
               "this run's measurements in orange.")
    for i, pub in enumerate(targets.values()):
        ev = ev_panel.load(g, pub)
        for grp in (ev or {}).get("groups", []):
            if any(m["finding"] in mine for m in grp["measurements"]):
                with st.container(border=True, key=f"run_verdict_{i}"):
                    c.node_link(pub)
                    ev_panel.show_group(grp, f"rv{i}", highlight=mine)
