"""``findings evidence ID``: a claim's (or a published finding's) evidence, grouped by quantity, pooled, with
its computed status (:mod:`graph.evidence`)."""
from __future__ import annotations

from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Add ``evidence`` to ``app`` (once)."""
    if any(c.name == "evidence" for c in app.registered_commands):
        return
    from app.cli import emit_json, graph_of, handles_errors

    @app.command("evidence")
    @handles_errors
    def evidence(ctx: typer.Context, node_id: str = typer.Argument(..., metavar="ID"),
                 as_json: bool = typer.Option(False, "--json", help="The evidence as one JSON object.")) -> None:
        """The evidence of a claim or a published finding: its measurements grouped by quantity (metric, measure,
        method, dataset, split, conditions), each group pooled (fixed effect, DerSimonian–Laird), and its status."""
        data = graph_of(ctx).evidence(node_id)
        if as_json:
            emit_json(data)
            return
        for line in render(data):
            typer.echo(line)


def _pm(value: float, err: float | None) -> str:
    return f"{value:.4g}" if err is None else f"{value:.4g} ± {err:.2g}"


def _source(s: dict[str, Any]) -> str:
    if s["kind"] == "run":
        seeds = s.get("seeds")
        seeds = f", seeds {','.join(map(str, seeds))}" if isinstance(seeds, list) else ""
        return f"run {s['id']} [{s.get('protocol') or 'protocol not stated'}{seeds}]"
    if s["kind"] == "paper":
        return f"paper {s['title'][:60]}" + (f" ({s['year']})" if s.get("year") else "")
    return "no paper or run"


def _how(m: dict[str, Any]) -> str:
    bits = [m["stance"]] if m["stance"] else []
    for v in m["verdicts"]:
        z = f"z={v['z']}" if v.get("z") is not None else ""
        bits.append(v["edge"] + (f" ({z}{', floor band' if v['floor_band'] else ''})" if z or v["floor_band"] else ""))
    if m["at_floor"]:
        bits.append("at its estimator's floor")
    return " · ".join(bits)


def render(data: dict[str, Any]) -> list[str]:
    """The human-readable evidence: status and counts, then each group with its measurements and pool."""
    from graph.evidence import Status, quantity_label

    out = [f"[{data['kind']}] {data['title']}", f"id: {data['id']}",
           f"status: {Status(data['status'], data['counts']).text()}", f"rule: {data['rule']}"]
    for g in data["groups"]:
        out += ["", quantity_label(g["quantity"])]
        for m in g["measurements"]:
            err = f" ({m['err_kind']}" + (f", n={m['n']}" if m.get("n") else "") + ")" if m["err_kind"] else ""
            out.append(f"  {m['origin']:<9} {_pm(m['value'], m['err'])}{err}  {_source(m['source'])}  {_how(m)}")
        p = g["pooled"]
        if p:
            f, r = p["fixed"], p["random"]
            out.append(f"  pooled (k={p['k']}): fixed {_pm(f['estimate'], f['se'])} · random "
                       f"{_pm(r['estimate'], r['se'])} (τ²={r['tau2']:.3g}, I²={100 * r['i2']:.0f}%, "
                       f"Q={r['q']:.3g}, p={r['p']:.3g})")
        else:
            out.append(f"  not pooled: {g['not_pooled']}")
        for x in g["excluded"]:
            out.append(f"  left out of the pool: {x['finding']}: {x['reason']}")
        for w in g["warnings"]:
            out.append(f"  warning: {w}")
    if data["unmeasured"]:
        out += ["", "without a measurement:"]
        out += [f"  {u['stance'] or 'bears on it'}: {u['title']}  ({u['finding']})" for u in data["unmeasured"]]
    if not data["groups"] and not data["unmeasured"]:
        out += ["", "no evidence yet: no finding supports, contradicts or replicates it"]
    return out

