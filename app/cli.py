"""The ``findings`` command line. Thin: every command calls :mod:`graph` (or :mod:`engine`).

Heavy libraries (SQLAlchemy, torch, sentence-transformers) are imported inside the commands that need
them, so ``findings --help`` and the query commands start fast. Errors a user can fix print one line
on stderr and exit with status 1; nothing is written when a command fails.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Optional

import typer

app = typer.Typer(
    name="findings", help="Explore and extend a knowledge graph of interpretability findings.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False, rich_markup_mode=None,
)
add_app = typer.Typer(help="Add a paper, claim or finding.", no_args_is_help=True)
app.add_typer(add_app, name="add")


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def handles_errors(fn):
    """Turn the errors a user can act on into one line on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit, KeyboardInterrupt):
            raise
        except ValueError as exc:
            fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        except Exception as exc:  # database errors and the like: still one line, never a traceback
            if type(exc).__module__.startswith("sqlalchemy"):
                orig = getattr(exc, "orig", None)
                fail(f"database: {str(orig or exc).splitlines()[0]}")
            if type(exc).__module__ == "sqlite3":  # the quick read path (db.sqlite_read)
                fail(f"database: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            raise

    return wrapper


PAGE = 20  # rows per group (edge type, direction) that show and neighbors print unless told


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def graph_of(ctx: typer.Context):
    """The graph of ``--db``, writing as ``--user``, read-only under ``--read-only`` (one per command)."""
    from graph.api import Graph

    obj = ctx.find_root().obj or {}
    if obj.get("graph") is None:
        obj["graph"] = Graph(obj.get("db"), user=obj.get("user"), read_only=obj.get("read_only"))
        ctx.find_root().obj = obj
    return obj["graph"]


def quick_reader(ctx: typer.Context):
    """The SQLite quick read path for ``show`` and ``search`` (:mod:`db.sqlite_read`: no SQLAlchemy import),
    or None when the command must go through :mod:`graph.api` (PostgreSQL, a database not yet at head)."""
    from db.identity import read_only_requested
    from db.sqlite_read import open_reader

    obj = ctx.find_root().obj or {}
    return open_reader(obj.get("db"), read_only=read_only_requested(obj.get("read_only")))


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Optional[str] = typer.Option(None, "--db", help="Database: SQLAlchemy URL or SQLite file path "
                                     "(default: $FINDINGS_DB, else ~/.local/share/findings/findings.db)."),
    user: Optional[str] = typer.Option(None, "--user", help="Who this command's writes are recorded as "
                                       "(default: $FINDINGS_USER, else the OS user)."),
    read_only: Optional[bool] = typer.Option(None, "--read-only/--read-write", show_default=False,
                                             help="Open the database so that nothing can be written "
                                                  "(default: $FINDINGS_READ_ONLY, else read-write)."),
) -> None:
    ctx.obj = {"db": db, "user": user, "read_only": read_only}


# ---- store ---------------------------------------------------------------------------------------
@app.command()
@handles_errors
def init(ctx: typer.Context) -> None:
    """Create the database or upgrade it to the current schema."""
    from db.engine import current_revision

    g = graph_of(ctx)
    typer.echo(f"database ready at {g.store.url} (schema revision {current_revision(g.store.engine)})")


@app.command()
@handles_errors
def seed(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Machine-readable report.")) -> None:
    """Load the curated seed graph and the four seed documents (loading twice adds nothing)."""
    from seeds import load_seeds

    report = load_seeds(graph_of(ctx))
    _print_report(report, as_json)


@app.command()
@handles_errors
def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Documents to ingest."),
    fmt: str = typer.Option("auto", "--format", help="auto|finding-page|paper-card|paper-page|abstract-dump|"
                                                     "bibtex|arxiv-snapshot"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Ingest documents (finding pages, reproducibility cards, paper pages, abstract dumps) or papers
    (BibTeX files, arXiv metadata snapshots)."""
    from graph.papers import PAPER_FORMATS, PAPER_SUFFIXES
    from graph.parsers import FORMATS

    if fmt in PAPER_FORMATS:
        _print_report(graph_of(ctx).ingest_papers(list(paths), fmt), as_json)
        return
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected auto or one of: {', '.join((*FORMATS, *PAPER_FORMATS))}")
    suffixes = PAPER_SUFFIXES if fmt == "auto" else {}
    papers = {p: suffixes[p.suffix.lower()] for p in paths if p.suffix.lower() in suffixes}
    if not papers:
        _print_report(graph_of(ctx).ingest_paths(list(paths), fmt), as_json)
        return
    # auto with .bib / .jsonl files: the documents first (one transaction), then each paper file in its batches
    from graph.ingest import IngestReport

    g = graph_of(ctx)
    documents = [p for p in paths if p not in papers]
    report = g.ingest_paths(documents, fmt) if documents else IngestReport()
    for path, paper_fmt in papers.items():
        report.absorb(g.ingest_papers([path], paper_fmt))
    _print_report(report, as_json)


def _print_report(report, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_json())
        return
    typer.echo(f"{len(report.files)} document(s): {report.nodes_added} nodes added, "
               f"{report.nodes_updated} updated, {report.edges_added} edges added")
    for w in report.warnings:
        typer.echo(f"warning: {w}", err=True)


# ---- reading -------------------------------------------------------------------------------------
@app.command()
@handles_errors
def show(ctx: typer.Context, node_id: str = typer.Argument(..., metavar="ID"),
         limit: int = typer.Option(PAGE, "--limit", min=1, max=100_000, help="Edges shown per group "
                                   "(edge type and direction); each group's count is always given."),
         offset: int = typer.Option(0, "--offset", min=0, help="Skip this many edges of each group."),
         every: bool = typer.Option(False, "--all", help="Every edge, in edge order, instead of pages."),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Show a node: its fields, measurements and edges (a page of each group, with its count)."""
    from graph.evidence import status_of

    page = (None, 0) if every else (limit, offset)
    reader = quick_reader(ctx)
    if reader is not None:
        with reader:
            data = reader.show(node_id, *page)
            status = status_of(reader, data["id"], data["kind"])
    else:
        g = graph_of(ctx)
        data = g.show(node_id, *page)
        status = g.statuses({data["id"]: data["kind"]}).get(data["id"])
    data["evidence"] = status.to_json() if status else None
    if as_json:
        emit_json(data)
        return
    typer.echo(f"[{data['kind']} · {data['status']}] {data['title']}")
    typer.echo(f"id: {data['id']}")
    added = data["added"]
    typer.echo(f"added: {added['at']} by {added['user'] or 'unknown (written before authorship was recorded)'}")
    if status:
        typer.echo(f"evidence: {status.text()}  (findings evidence {data['id']})")
    if data["description"]:
        typer.echo(f"\n{data['description']}")
    attrs = {k: v for k, v in data["attrs"].items() if k != "not_compared"}
    if attrs:
        typer.echo("\nattributes:")
        for k, v in attrs.items():
            typer.echo(f"  {k}: {json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}")
    if data["measurements"]:
        typer.echo("\nmeasurements:")
        for m in data["measurements"]:
            err = ""
            if m["err"] is not None:
                err = f" ± {m['err']:.2g}" + (f" ({m['err_kind']})" if m["err_kind"] else "")
            extra = ", ".join(f"{k}={m[k]}" for k in ("split", "dataset", "method", "n") if m.get(k) is not None)
            cond = f" {json.dumps(m['conditions'])}" if m["conditions"] else ""
            typer.echo(f"  {m['metric']} = {m['value']:g}{err}" + (f"  [{extra}]" if extra else "") + cond)
            typer.echo(f"    measure: {m.get('measure') or 'not stated'}"
                       + (f" {json.dumps(m['measure_params'])}" if m.get("measure_params") else ""))
            if m.get("floor"):
                f = m["floor"]
                typer.echo(f"    floor (a perfect intervention, same estimator and n): {f['mean']:.4g}"
                           + (f" ± {f['sem']:.2g}" if f.get("sem") is not None else "") + f" over {f.get('n')} runs")
    if data["attrs"].get("not_compared"):
        typer.echo("\nnot compared with (not like for like):")
        for nc in data["attrs"]["not_compared"]:
            err = f"±{nc['err']:g}" if nc.get("err") is not None else ""
            typer.echo(f"  {nc['published']} ({nc['value']:g}{err}, measure {nc.get('measure') or 'not stated'}): "
                       f"{nc['reason']}")
    if data["edges"] or data.get("groups"):
        typer.echo("\nedges:")
        _print_edges(data, node_id)


def _more_line(more: int, node_id: str, command: str, next_offset: int) -> str:
    return f"  … {more:,} more (findings {command} {node_id} --offset {next_offset})"


def _print_edges(data: dict[str, Any], node_id: str) -> None:
    """The edges of ``show``: every one, or each group's page followed by how many more it has."""
    pages = [(None, data["edges"])]
    if data.get("groups") is not None:
        pages, at = [], 0
        for grp in data["groups"]:
            pages.append((grp, data["edges"][at:at + grp["shown"]]))
            at += grp["shown"]
    for grp, edges in pages:
        for e in edges:
            arrow = "→" if e["direction"] == "out" else "←"
            a = e.get("attrs", {})
            score = f" (score {a['score']})" if "score" in a else ""
            if "published_value" in a:
                score = (f" (run {a['run_value']:.4g}±{a['run_err'] or 0:.2g} vs published {a['published_value']:.4g}"
                         f"±{a['published_err'] or 0:.2g}, z={a['z']}; rule {a['rule']}"
                         + (f"; measure {a['measure']}" if a.get("measure") else "")
                         + ("; both within the floor band: indistinguishable from a perfect map"
                            if a.get("floor_band") else "") + ")")
            typer.echo(f"  {arrow} {e['type']}: [{e['node']['kind']}] {e['node']['title']}  ({e['node']['id']}){score}")
        if grp is not None and grp["count"] > grp["offset"] + grp["shown"]:
            more = grp["count"] - grp["offset"] - grp["shown"]
            typer.echo(f"  {grp['type']} ({grp['direction']}): {grp['count']:,} in all"
                       + _more_line(more, node_id, "show", grp["offset"] + grp["shown"]))


@app.command()
@handles_errors
def neighbors(ctx: typer.Context, node_id: str = typer.Argument(..., metavar="ID"),
              limit: int = typer.Option(PAGE, "--limit", min=1, max=100_000, help="Neighbours shown per group; "
                                        "each group's count is always given."),
              offset: int = typer.Option(0, "--offset", min=0, help="Skip this many neighbours of each group."),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Neighbourhood grouped by edge type, ranked by edge count: a page of each group, with its count."""
    offsets = {(g, d): offset for g, d in _all_groups()} if offset else None
    reader = quick_reader(ctx)
    if reader is not None:  # SQLite at head: the same ranking, without importing SQLAlchemy
        from graph.neighbourhood import neighbourhood

        with reader:
            groups = neighbourhood(reader, node_id, limit, offsets)
    else:
        groups = graph_of(ctx).neighbourhood(node_id, per_group=limit, offsets=offsets)
    data = [{"type": g.edge_type, "direction": g.direction, "count": g.count, "offset": g.offset, "more": g.more,
             "neighbours": [{"id": n.id, "kind": n.kind, "title": n.title, "edges": c} for n, c, _ in g.neighbours]}
            for g in groups]
    if as_json:
        emit_json(data)
        return
    for g in data:
        typer.echo(f"{g['type']} ({g['direction']}, {g['count']:,})")
        for n in g["neighbours"]:
            typer.echo(f"  - [{n['kind']}] {n['title']}  ({n['id']}; {n['edges']} edge{'s' if n['edges'] > 1 else ''})")
        if g["more"]:
            typer.echo(_more_line(g["more"], node_id, "neighbors", g["offset"] + len(g["neighbours"])))


def _all_groups() -> list[tuple[str, str]]:
    """Every (edge type, direction) a node can have: one offset for each."""
    from graph.vocabulary import EDGE_TYPES

    return [(t, d) for t in EDGE_TYPES for d in ("out", "in")]


@app.command()
@handles_errors
def search(
    ctx: typer.Context,
    text: str = typer.Argument(..., metavar="TEXT"),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only nodes of this kind."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    semantic: bool = typer.Option(False, "--semantic", help="Rank by sentence-embedding cosine instead of keywords."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Keyword search over titles and descriptions (or semantic search with --semantic)."""
    if kind is not None:
        from graph.vocabulary import check_kind

        check_kind(kind)
    from graph.evidence import statuses

    if semantic:
        from app.commands.similarity import semantic_search_rows

        g = graph_of(ctx)
        data = semantic_search_rows(g, text, kind, limit)
        found = g.statuses({d["id"]: d["kind"] for d in data})
    elif (reader := quick_reader(ctx)) is not None:
        with reader:
            data = [{**d, "score": round(d["score"], 4)} for d in reader.search(text, kind=kind, limit=limit)]
            found = statuses(reader, {d["id"]: d["kind"] for d in data})
    else:
        g = graph_of(ctx)
        hits = g.search(text, kind=kind, limit=limit)
        data = [{"id": n.id, "kind": n.kind, "title": n.title, "score": round(s, 4)} for n, s in hits]
        found = g.statuses({d["id"]: d["kind"] for d in data})
    for d in data:  # a claim's or a published finding's evidence status (graph.evidence); None for the rest
        d["evidence"] = found[d["id"]].status if d["id"] in found else None
    if as_json:
        emit_json(data)
        return
    if not data:
        typer.echo("no matches", err=True)
    for d in data:
        badge = f" [{d['evidence']}]" if d["evidence"] else ""
        typer.echo(f"{d['score']:8.3f}  [{d['kind']}]{badge} {d['title']}  ({d['id']})")


@app.command()
@handles_errors
def stats(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Node counts by kind and edge counts by type."""
    data = graph_of(ctx).stats()
    if as_json:
        emit_json(data)
        return
    typer.echo(f"nodes: {sum(data['nodes'].values())}")
    for k, v in data["nodes"].items():
        typer.echo(f"  {k:<12} {v}")
    typer.echo(f"edges: {sum(data['edges'].values())}")
    for k, v in data["edges"].items():
        typer.echo(f"  {k:<20} {v}")


RUN_STATUSES = ("running", "finished", "failed", "abandoned")


@app.command("runs")
@handles_errors
def runs_cmd(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(None, "--status", help="running|finished|failed|abandoned"),
    config_hash: Optional[str] = typer.Option(
        None, "--hash", metavar="H", help="Only runs stored under this config hash (as `findings sweep --dry-run` "
                                          "prints it)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Experiment runs, newest first, with status, duration and number of findings; a run left running by
    a process that is gone is shown abandoned."""
    from graph.run_owner import abandoned_reason

    if status is not None and status not in RUN_STATUSES:
        raise ValueError(f"unknown run status {status!r}; expected one of: {', '.join(RUN_STATUSES)}")
    graph = graph_of(ctx)
    if config_hash is not None:
        from graph.runs import runs_with_hash

        found = runs_with_hash(graph, config_hash.strip())
    else:
        found = graph.nodes(kind="run")
    rows = []
    for run in found:
        a = run.attrs
        abandoned = a.get("abandoned") or abandoned_reason(a)
        shown = "abandoned" if abandoned else a.get("status")
        if status and shown != status:
            continue
        rows.append({"id": run.id, "title": run.title, "status": shown, "started_at": a.get("started_at"),
                     "ended_at": a.get("ended_at"), "duration_s": a.get("duration_s"),
                     "findings": a.get("findings", 0), "config_hash": a.get("config_hash"),
                     "config": a.get("config", {}), "error": a.get("error"), "abandoned": abandoned,
                     "heartbeat_at": a.get("heartbeat_at")})
    rows.sort(key=lambda r: r["started_at"] or "", reverse=True)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no runs", err=True)
    for r in rows:
        dur = f"{r['duration_s']:.0f}s" if r["duration_s"] is not None else "-"
        why = f"  ({r['abandoned']})" if r["abandoned"] else ""
        typer.echo(f"{r['status'] or '?':<9} {dur:>7}  {r['findings']:>3} findings  {r['id']}{why}")


# ---- writing -------------------------------------------------------------------------------------
def _load_file(path: Path) -> Any:
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    text = path.read_text(encoding="utf-8", errors="strict")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:  # yaml and json raise many kinds of errors
        raise ValueError(f"{path}: not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'} "
                         f"({str(exc).splitlines()[0]})") from None


def _add(ctx: typer.Context, kind: str, title: Optional[str], description: str, from_file: Optional[Path],
         paper: Optional[str], extra: dict[str, Any], authors: list[str] | None = None) -> None:
    from graph.writes import add_with_links

    data: dict[str, Any] = _load_file(from_file) if from_file else {}
    if not isinstance(data, dict):
        raise ValueError("the file must hold one mapping of node fields")
    data = {"kind": kind, **data}
    if title is not None:
        data["title"] = title
    if description:
        data["description"] = description
    paper = data.pop("paper", None) or paper
    authors = list(data.pop("authors", None) or []) + list(authors or [])
    for k, v in extra.items():
        if v is not None:
            data.setdefault(k, v)
    if "title" not in data:
        raise ValueError("a title is required (--title or in --from-file)")
    typer.echo(add_with_links(graph_of(ctx), data, paper=paper, authors=authors))


@add_app.command("paper")
@handles_errors
def add_paper(
    ctx: typer.Context,
    title: Optional[str] = typer.Option(None, "--title"),
    description: str = typer.Option("", "--description", help="Abstract."),
    author: list[str] = typer.Option([], "--author", help="An author (repeat for several)."),
    year: Optional[int] = typer.Option(None, "--year"),
    from_file: Optional[Path] = typer.Option(None, "--from-file", help="YAML or JSON with the node's fields."),
    arxiv: Optional[str] = typer.Option(None, "--arxiv", metavar="ID",
                                        help="Fetch the paper from the arXiv API (2401.01234, hep-th/9901001)."),
) -> None:
    """Add a paper (with its authors); prints its id. With --arxiv, from the arXiv API: a paper already
    held (same arXiv id, DOI, or title and first author) is filled in, never duplicated."""
    if arxiv is not None:
        if title is not None or description or author or year is not None or from_file is not None:
            raise ValueError("--arxiv takes the paper's fields from arXiv: give it alone")
        paper_id, done = graph_of(ctx).add_arxiv_paper(arxiv)
        typer.echo(paper_id)
        typer.echo({"added": "added", "updated": "already held; filled in what it lacked",
                    "unchanged": "already held; nothing to add"}[done], err=True)
        return
    _add(ctx, "paper", title, description, from_file, None, {"attrs": {"year": year} if year else None}, author)


@add_app.command("claim")
@handles_errors
def add_claim(
    ctx: typer.Context,
    title: Optional[str] = typer.Option(None, "--title"),
    description: str = typer.Option("", "--description"),
    paper: Optional[str] = typer.Option(None, "--paper", help="Id of the paper it was stated in."),
    from_file: Optional[Path] = typer.Option(None, "--from-file"),
) -> None:
    """Add a claim; prints the new id."""
    _add(ctx, "claim", title, description, from_file, paper, {})


@add_app.command("finding")
@handles_errors
def add_finding(
    ctx: typer.Context,
    title: Optional[str] = typer.Option(None, "--title"),
    description: str = typer.Option("", "--description"),
    paper: Optional[str] = typer.Option(None, "--paper", help="Id of the paper it was extracted from."),
    metric: Optional[str] = typer.Option(None, "--metric"),
    value: Optional[float] = typer.Option(None, "--value"),
    err: Optional[float] = typer.Option(None, "--err"),
    err_kind: Optional[str] = typer.Option(None, "--err-kind", help="std|sem|ci95"),
    n: Optional[int] = typer.Option(None, "--n"),
    split: Optional[str] = typer.Option(None, "--split"),
    dataset: Optional[str] = typer.Option(None, "--dataset"),
    method: Optional[str] = typer.Option(None, "--method"),
    from_file: Optional[Path] = typer.Option(None, "--from-file"),
) -> None:
    """Add a finding, with a measurement when --metric and --value are given; prints the new id."""
    measurement = None
    if metric is not None or value is not None:
        if metric is None or value is None:
            raise ValueError("--metric and --value go together")
        measurement = [{k: v for k, v in dict(metric=metric, value=value, err=err, err_kind=err_kind, n=n,
                                                split=split, dataset=dataset, method=method).items()
                        if v is not None}]
    elif any(v is not None for v in (err, err_kind, n, split, dataset, method)):
        raise ValueError("measurement fields need --metric and --value")
    _add(ctx, "finding", title, description, from_file, paper, {"measurements": measurement})


@app.command()
@handles_errors
def link(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="SRC"),
    edge_type: str = typer.Argument(..., metavar="TYPE"),
    target: str = typer.Argument(..., metavar="DST"),
    attr: list[str] = typer.Option([], "--attr", help="key=value attribute of the edge (repeatable)."),
) -> None:
    """Add a typed edge SRC --TYPE--> DST (checked against the vocabulary)."""
    attrs: dict[str, Any] = {}
    for item in attr:
        if "=" not in item:
            raise ValueError(f"--attr needs key=value, not {item!r}")
        k, v = item.split("=", 1)
        try:
            attrs[k] = json.loads(v)
        except json.JSONDecodeError:
            attrs[k] = v
    g = graph_of(ctx)
    new = g.link(source, edge_type, target, attrs, {"user": g.store.user})
    typer.echo(f"{'added' if new else 'already present'}: {source} --{edge_type}--> {target}")


@app.command("export")
@handles_errors
def export_cmd(
    ctx: typer.Context,
    fmt: str = typer.Option("json", "--format", help="json|graphml|csv (csv: a zip of nodes, edges, measurements)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="File to write (default: stdout; csv needs it)."),
) -> None:
    """Export the whole graph."""
    g = graph_of(ctx)
    if fmt == "json":
        payload: str | bytes = json.dumps(g.export_json(), indent=2, ensure_ascii=False, default=str)
    elif fmt == "graphml":
        payload = g.export_graphml()
    elif fmt == "csv":
        if output is None:
            raise ValueError("--format csv writes a zip archive: give --output FILE.zip")
        payload = g.export_csv_zip()
    else:
        raise ValueError(f"unknown format {fmt!r}; expected json, graphml or csv")
    if output is None:
        typer.echo(payload)
    elif isinstance(payload, bytes):
        output.write_bytes(payload)
    else:
        output.write_text(payload + "\n", encoding="utf-8")
    if output is not None:
        typer.echo(f"wrote {output}", err=True)


@app.command("import")
@handles_errors
def import_cmd(ctx: typer.Context, path: Path = typer.Argument(..., metavar="FILE")) -> None:
    """Import a JSON export (all or nothing; ids must not exist yet)."""
    nodes, edges = graph_of(ctx).import_json(_load_file(path))
    typer.echo(f"imported {nodes} nodes and {edges} edges")


# ---- command groups that live in app/commands (each imports its heavy libraries lazily) --------
def _register_command_groups() -> None:
    from app.commands import appcmd, boundless, evidence, history, measures, reliability, results, similarity, sweep
    from app.commands.run import run_app

    boundless.register(run_app)
    app.add_typer(run_app, name="run")
    appcmd.register(app)
    similarity.register(app)
    reliability.register(app)
    measures.register(app)
    results.register(app)
    evidence.register(app)
    history.register(app)
    sweep.register(app)


_register_command_groups()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
