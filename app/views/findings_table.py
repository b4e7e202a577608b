"""Findings table: every measurement with its finding, paper and run; filters, sorting, CSV export, and
the plots people would rather look at: IIA against divergence per loss, a metric against ε."""
from __future__ import annotations

import streamlit as st

from app import components as c
from app import plots
from graph.evidence import STATUSES


def findings_table_page() -> None:
    import pandas as pd

    g = c.graph()
    st.markdown("## Findings")
    options = g.finding_filters()
    f = st.columns(5)
    metric = f[0].selectbox("Metric", ["", *options["metric"]], format_func=c.any_label, key="ft_metric")
    method = f[1].selectbox("Method", ["", *options["method"]], format_func=c.any_label, key="ft_method")
    dataset = f[2].selectbox("Dataset", ["", *options["dataset"]], format_func=c.any_label, key="ft_dataset")
    papers = {p.id: p.title for p in options["paper"]}
    paper = f[3].selectbox("Paper", ["", *papers], key="ft_paper",
                           format_func=lambda i: c.short(papers[i], 60) if i else "any")
    runs = {r.id: r.title for r in options["run"]}
    run = f[4].selectbox("Run", ["", *runs], key="ft_run", format_func=lambda i: c.short(runs[i], 60) if i else "any")

    rows = g.finding_rows(metric or None, method or None, dataset or None, paper or None, run or None)
    labels = g.evidence_labels(list({r.node.id: r.node for r in rows}.values())) if rows else {}
    present = sorted(set(labels.values()), key=lambda v: (v not in STATUSES, v))
    wanted = st.multiselect("Evidence", present, key="ft_evidence", placeholder="any",
                            help="A published finding's status (its replications: supported, contested, refuted, "
                                 "untested); a run's result's verdict against the published numbers.")
    if wanted:
        rows = [r for r in rows if labels.get(r.node.id) in wanted]
    if not rows:
        st.caption("No measurements match these filters.")
        return
    df = pd.DataFrame([{
        "finding": r.node.title,
        "evidence": labels.get(r.node.id, ""),
        "metric": r.measurement.metric,
        "value": r.measurement.value,
        "err": r.measurement.err,
        "err_kind": r.measurement.err_kind,
        "measure": r.measurement.measure or "",
        "floor": c.floor_text(r.measurement.floor),
        "n": r.measurement.n,
        "split": r.measurement.split,
        "method": r.measurement.method,
        "dataset": r.measurement.dataset,
        "conditions": c.conditions_text(r.measurement.conditions),
        "paper": "; ".join(p.title for p in r.papers),
        "run": "; ".join(x.title for x in r.runs),
        "id": r.node.id,
        "page": c.node_url(r.node.id),
    } for r in rows])
    st.caption(f"{len(df)} measurements · click a column header to sort · select a row to open its finding")
    event = st.dataframe(
        df, hide_index=True, key="ft_table", on_select="rerun", selection_mode="single-row",
        column_order=["finding", "evidence", "metric", "value", "err", "measure", "floor", "err_kind", "n", "split",
                      "method", "dataset", "conditions", "paper", "run", "page"],
        column_config={
            "finding": st.column_config.TextColumn("finding", width="large"),
            "value": st.column_config.NumberColumn("value", format="%.4g"),
            "err": st.column_config.NumberColumn("± err", format="%.3g"),
            "page": st.column_config.LinkColumn("page", display_text="open"),
        },
    )
    selected = getattr(getattr(event, "selection", None), "rows", None) or []
    if selected:
        r = rows[selected[0]]
        c.node_link(r.node)
    st.download_button("Export CSV", c.csv_safe(df.drop(columns=["page"])).to_csv(index=False).encode("utf-8"),
                       file_name="findings.csv", mime="text/csv", key="ft_csv", icon=":material/download:")
    _plots(rows)


def _plots(rows) -> None:
    metrics = sorted({r.measurement.metric for r in rows})
    divergences = plots.divergence_measures(rows)
    if "IIA" in metrics and divergences:
        cols = st.columns(2)
        div = cols[0].selectbox("Divergence measure", divergences, key="ft_divergence")
        iia_options = plots.iia_measures(rows)
        iia = cols[1].selectbox("IIA measure", iia_options, key="ft_iia_measure",
                                format_func=lambda v: v or "not stated")
        fig = plots.iia_vs_divergence(rows, div, iia)
        if fig is not None:
            st.markdown(f"#### IIA ({c.md(iia or 'measure not stated')}) against EMD ({c.md(div)}), per loss")
            st.caption("One point per setting (same source, data, split, method and conditions, the protocol "
                       "among them), one measure on each axis; bars are the stated errors. Diamonds are published "
                       "numbers, circles are runs.")
            st.plotly_chart(fig, key="ft_iia_div")
        else:
            st.caption("No setting has both an IIA under this measure and a divergence under that one.")
    swept = sorted({r.measurement.metric for r in rows if "epsilon" in r.measurement.conditions})
    if swept:
        metric = st.selectbox("Metric against ε", swept, key="ft_eps_metric",
                              index=swept.index("IIA") if "IIA" in swept else 0)
        fig = plots.metric_vs_epsilon(rows, metric)
        if fig is not None:
            st.markdown(f"#### {c.md(metric)} against ε")
            log_x = st.toggle("log ε axis (hides ε = 0)", key="ft_eps_log")
            if log_x:
                fig.update_xaxes(type="log")
            st.plotly_chart(fig, key="ft_eps")


if __name__ == "__main__":
    findings_table_page()
