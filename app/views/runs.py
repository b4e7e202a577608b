"""Runs: the experiments with their status, configuration and duration, and the findings each produced."""
from __future__ import annotations

import json

import streamlit as st

from app import components as c
from graph.run_owner import abandoned_reason, run_status

LIMIT = 500


def runs_page() -> None:
    import pandas as pd

    g = c.graph()
    st.markdown("## Runs")
    runs = g.nodes(kind="run", limit=LIMIT)
    if not runs:
        st.info("No runs yet: start one with `findings run …`; its findings appear here and in the findings table.")
        return
    shown = {r.id: run_status(r.attrs) for r in runs}  # "abandoned": left running by a process that is gone
    statuses = sorted({str(v or "") for v in shown.values()} - {""})
    status = st.selectbox("Status", ["", *statuses], format_func=c.any_label, key="runs_status")
    runs = [r for r in runs if not status or shown[r.id] == status]
    runs.sort(key=lambda r: str(r.attrs.get("started_at") or ""), reverse=True)
    df = pd.DataFrame([{
        "run": r.title,
        "status": shown[r.id],
        "started": r.attrs.get("started_at"),
        "duration_s": r.attrs.get("duration_s"),
        "device": r.attrs.get("device"),
        "site": _text(r.attrs.get("site")),
        "divergence": _text(r.attrs.get("divergence_measure")),
        "config": json.dumps(r.attrs.get("config", {}), sort_keys=True, default=str),
        "page": c.node_url(r.id),
    } for r in runs])
    st.caption(f"{len(df)} runs · select one to see its configuration and findings")
    event = st.dataframe(
        df, hide_index=True, key="runs_table", on_select="rerun", selection_mode="single-row",
        column_config={"duration_s": st.column_config.NumberColumn("duration (s)", format="%.1f"),
                       "config": st.column_config.TextColumn("config", width="large"),
                       "page": st.column_config.LinkColumn("page", display_text="open")},
    )
    selected = getattr(getattr(event, "selection", None), "rows", None) or []
    if not selected:
        return
    run = runs[selected[0]]
    c.node_link(run)
    left, right = st.columns([1, 2])
    with left:
        st.caption("Configuration")
        st.json(run.attrs.get("config", {}), expanded=True)
        if shown[run.id] == "abandoned":
            st.caption("Abandoned")
            st.code(run.attrs.get("abandoned") or abandoned_reason(run.attrs) or "", language=None)
        if run.attrs.get("error"):
            st.caption("Error")
            st.code(str(run.attrs["error"]), language=None)
    with right:
        rows = g.finding_rows(run=run.id)
        st.caption(f"Findings ({len(rows)})")
        for r in rows:
            m = r.measurement
            measure = f" [{m.measure}]" if m.measure else ""
            floor = f" · floor {c.floor_text(m.floor)}" if m.floor else ""
            c.node_summary(r.node, extra=f"{m.metric}{measure} {c.value_pm(m.value, m.err)}{floor}"
                           + (f" · {c.conditions_text(m.conditions)}" if m.conditions else ""), description=False)


def _text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


if __name__ == "__main__":
    runs_page()
