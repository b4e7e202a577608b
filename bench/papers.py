"""Papers from files, measured: a generated arXiv metadata snapshot and the BibTeX fixtures, ingested twice.

    python -m bench.papers [--lines 10000] [--json]

Writes a snapshot of ``--lines`` JSON lines in the public snapshot's format (``id``, ``submitter``,
``authors``, ``title``, ``comments``, ``journal-ref``, ``doi``, ``report-no``, ``categories``, ``license``,
``abstract``, ``versions``, ``update_date``, ``authors_parsed``) to a temporary directory: new- and old-style
ids, LaTeX in names and titles, several versions, DOIs on some, categories drawn from a skewed list (a few
hubs such as cs.LG), authors from a pool so that people recur. About one line in 500 is broken on purpose
(cut JSON, no id, a list instead of an object), and one in 200 repeats an earlier paper with another version,
so the warnings and the dedupe have something to do. Then it ingests the snapshot into a new SQLite store,
ingests it again, and does the same with ``tests/data/zotero_export.bib`` and ``scholar_export.bib``,
printing nodes, edges, warnings and seconds for each pass. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ["cs.LG"] * 12 + ["cs.CL"] * 8 + ["cs.AI"] * 6 + ["stat.ML"] * 4 + ["cs.CV"] * 3 + \
    ["cs.NE", "q-bio.NC", "math.OC", "hep-th", "cond-mat.dis-nn", "physics.data-an", "econ.EM"]
FIRST = ["Anna", "Ben", "Chen", "Dmitri", "Elif", "Fatima", "Giulia", "Hiro", "Ines", "Jörg", "Kwame", "Léa",
         "Mateo", "Nadia", "Olu", "Priya", "Quentin", "Rosa", "Sven", "Tomás", "Uma", "Viktor", "Wei", "Yara"]
LAST = [("Müller", 'M\\"uller'), ("García", "Garc\\'ia"), ("Smith", "Smith"), ("Nguyen", "Nguyen"),
        ("Kowalski", "Kowalski"), ("Okafor", "Okafor"), ("Rossi", "Rossi"), ("Tanaka", "Tanaka"),
        ("Öztürk", '\\"Ozt\\"urk'), ("Dubois", "Dubois"), ("Silva", "Silva"), ("Ivanova", "Ivanova"),
        ("Kim", "Kim"), ("Patel", "Patel"), ("Haddad", "Haddad"), ("Larsen", "Larsen"), ("Novak", "Novak"),
        ("Cohen", "Cohen"), ("Ahmed", "Ahmed"), ("Fischer", "Fischer"), ("Moreau", "Moreau"), ("Sato", "Sato")]
WORDS = ("causal abstraction probing interventions representations sparse autoencoders circuits attention "
         "superposition features steering alignment divergence subspace patching transformers grokking "
         "language models linear geometry faithfulness attribution").split()
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _date(rng: random.Random, year: int) -> tuple[str, str]:
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    return (f"Mon, {day} {MONTHS[month - 1]} {year} 12:{rng.randint(10, 59)}:07 GMT",
            f"{year}-{month:02d}-{day:02d}")


def snapshot_line(rng: random.Random, i: int) -> dict:
    if i % 37 == 0:  # an old-style id
        year = rng.randint(1995, 2006)
        archive = rng.choice(["hep-th", "cond-mat", "cs", "math"])
        arxiv_id = f"{archive}/{year % 100:02d}{rng.randint(1, 12):02d}{i % 1000:03d}"
    else:
        year = rng.randint(2008, 2025)
        arxiv_id = f"{year % 100:02d}{rng.randint(1, 12):02d}.{i:05d}"
    n_auth = rng.choice([1, 2, 2, 3, 3, 4, 5, 8])
    people = [(rng.choice(FIRST), rng.choice(LAST)) for _ in range(n_auth)]
    versions = [_date(rng, year)]
    for _ in range(rng.choice([0, 0, 1, 2])):
        versions.append(_date(rng, min(year + 1, 2025)))
    cats = list(dict.fromkeys(rng.choice(CATEGORIES) for _ in range(rng.choice([1, 1, 2, 3]))))
    title_words = rng.sample(WORDS, 6)
    title = " ".join(title_words).capitalize() + f" {i}"
    if i % 11 == 0:
        title = f"$\\beta$-{title}"
    return {
        "id": arxiv_id, "submitter": f"{people[0][0]} {people[0][1][0]}",
        "authors": ", ".join(f"{f} {latex}" for f, (_, latex) in people),
        "title": title, "comments": f"{rng.randint(5, 40)} pages",
        "journal-ref": f"J. Fixture Res. {rng.randint(1, 40)} ({year})" if i % 5 == 0 else None,
        "doi": f"10.5555/fixture.{i}" if i % 4 == 0 else None, "report-no": None,
        "categories": " ".join(cats), "license": None,
        "abstract": "  We study " + " and ".join(rng.sample(WORDS, 4)) + f".\n  Result {i} holds.\n",
        "versions": [{"version": f"v{k + 1}", "created": c} for k, (c, _) in enumerate(versions)],
        "update_date": versions[-1][1],
        "authors_parsed": [[latex, f, ""] for f, (_, latex) in people],
    }


def write_snapshot(path: Path, lines: int, seed: int = 0) -> dict[str, int]:
    """Write ``lines`` lines; return how many are broken on purpose and how many repeat a paper."""
    rng = random.Random(seed)
    broken = repeats = 0
    written: list[dict] = []
    with path.open("w", encoding="utf-8") as fh:
        for i in range(1, lines + 1):
            if i % 500 == 250:
                broken += 1
                fh.write(rng.choice(['{"id": "2401.00001", "title": "cut sh', '{"title": "no id here"}',
                                     '["not", "an", "object"]']) + "\n")
                continue
            if i % 200 == 100 and written:
                repeats += 1
                again = dict(rng.choice(written))
                again["versions"] = again["versions"] + [{"version": f"v{len(again['versions']) + 1}",
                                                         "created": "Tue, 3 Dec 2024 10:00:00 GMT"}]
                fh.write(json.dumps(again, ensure_ascii=False) + "\n")
                continue
            obj = snapshot_line(rng, i)
            written.append(obj)
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return {"lines": lines, "broken": broken, "repeats": repeats}


def _timed_ingest(graph, paths: list[Path], fmt: str) -> dict:
    before = graph.stats()
    t0 = time.perf_counter()
    report = graph.ingest_papers(paths, fmt)
    seconds = time.perf_counter() - t0
    after = graph.stats()
    return {"format": fmt, "files": [p.name for p in paths], "seconds": round(seconds, 2),
            "nodes_added": report.nodes_added, "nodes_updated": report.nodes_updated,
            "edges_added": report.edges_added, "warnings": len(report.warnings),
            "nodes_total": sum(after["nodes"].values()), "edges_total": sum(after["edges"].values()),
            "nodes_by_kind": after["nodes"], "edges_by_type": after["edges"],
            "added_nodes_check": sum(after["nodes"].values()) - sum(before["nodes"].values())}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from graph.api import Graph

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "arxiv-metadata-snapshot.jsonl"
        made = write_snapshot(snap, args.lines)
        g = Graph(str(Path(tmp) / "snapshot.db"), user="bench")
        for attempt in ("first", "second"):
            rows.append({"pass": attempt, **made, "bytes": snap.stat().st_size,
                         **_timed_ingest(g, [snap], "arxiv-snapshot")})
        g = Graph(str(Path(tmp) / "bibtex.db"), user="bench")
        bibs = [ROOT / "tests" / "data" / "zotero_export.bib", ROOT / "tests" / "data" / "scholar_export.bib"]
        entries = sum(p.read_text(encoding="utf-8").count("\n@") + 1 for p in bibs)
        for attempt in ("first", "second"):
            rows.append({"pass": attempt, "entries": entries, **_timed_ingest(g, bibs, "bibtex")})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for r in rows:
        what = f"{r['lines']} snapshot lines" if r["format"] == "arxiv-snapshot" else f"{r['entries']} BibTeX entries"
        print(f"{r['format']:<15} {r['pass']:<6} {what:<22} {r['seconds']:>7.2f} s  +{r['nodes_added']} nodes "
              f"({r['nodes_updated']} updated), +{r['edges_added']} edges, {r['warnings']} warnings; "
              f"store: {r['nodes_total']} nodes {r['nodes_by_kind']}, {r['edges_total']} edges {r['edges_by_type']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
