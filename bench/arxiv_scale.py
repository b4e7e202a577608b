"""A generated arXiv metadata snapshot at field scale, written as a stream (``python -m bench --scale 1m``).

:func:`write_snapshot` writes ``papers`` JSON lines in the public snapshot's format (``id``, ``submitter``,
``authors``, ``authors_parsed``, ``title``, ``comments``, ``journal-ref``, ``doi``, ``report-no``,
``categories``, ``license``, ``abstract``, ``versions``, ``update_date``) one at a time: nothing is held but
the line being written, so a million lines cost no more memory than ten. Every line is a function of
(seed, line number) alone, so the file is the same on every machine and a repeated paper is regenerated
rather than remembered.

Shape, skewed as arXiv is:

- about 150 categories; the primary category and cross-lists are drawn from a heavy-tailed list, so a few
  hubs (cs.LG first) are on hundreds of thousands of papers and most categories on a few thousand;
- an author pool of ``papers * AUTHOR_SHARE`` people (first name, middle initial, surname; some surnames
  in LaTeX, ``M\\"uller``), chosen with a power law so that a few people have thousands of papers;
- new-style ids (``0801.00001``) and one line in 40 with an old-style id (``hep-th/9203001``); DOIs on a
  quarter, journal references on a fifth, one to three versions;
- titles and abstracts drawn from a Zipf-weighted vocabulary of research terms and made-up words, so a
  keyword search meets both common and rare words;
- one line in ``REPEAT_EVERY`` repeats an earlier paper with one more version (the dedupe's work), and one
  in ``BROKEN_EVERY`` is broken on purpose (cut JSON, no id, not an object: the warnings' work).

:func:`typed_edges` gives the edges the snapshot does not carry (papers ``listed_similar`` to papers,
findings ``extracted_from`` papers and related to each other), and :func:`findings` the finding nodes:
they go in through :func:`graph.bulk.load`.
"""
from __future__ import annotations

import json
import random
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import Any

AUTHOR_SHARE = 0.15  # distinct people per paper
REPEAT_EVERY = 500
BROKEN_EVERY = 2003
PER_MONTH = 5000  # new-style ids per month: yymm.nnnnn

_CS = ("LG CV CL AI RO CR IR SE DS NE SY IT HC SI DC MA GT NI LO CY DB CC PL IR2 SD MM GR CG DL ET FL AR "
       "CE NA OS PF SC MS DM OH").split()
_MATH = "OC ST PR NA CO AP DS AG NT FA DG PR2 MP GT LO RT QA AC CA CT CV GM GN GR HO KT MG OA RA SG SP".split()
_PHYS = ("optics comp-ph data-an soc-ph bio-ph flu-dyn chem-ph app-ph ins-det plasm-ph atom-ph med-ph "
         "gen-ph hist-ph ed-ph class-ph acc-ph ao-ph geo-ph pop-ph space-ph atm-clus").split()
_OTHER = ("stat.ML stat.ME stat.AP stat.CO stat.TH stat.OT eess.SP eess.IV eess.AS eess.SY econ.EM econ.GN "
          "econ.TH q-bio.NC q-bio.QM q-bio.BM q-bio.GN q-bio.MN q-bio.PE q-bio.CB q-bio.SC q-bio.TO q-bio.OT "
          "q-fin.ST q-fin.CP q-fin.MF q-fin.PM q-fin.RM q-fin.TR q-fin.GN q-fin.PR q-fin.EC hep-th hep-ph "
          "hep-ex hep-lat gr-qc quant-ph nucl-th nucl-ex math-ph astro-ph.CO astro-ph.GA astro-ph.SR "
          "astro-ph.HE astro-ph.EP astro-ph.IM cond-mat.dis-nn cond-mat.stat-mech cond-mat.mtrl-sci "
          "cond-mat.str-el cond-mat.soft cond-mat.mes-hall cond-mat.supr-con nlin.AO nlin.CD").split()
CATEGORIES: list[str] = ([f"cs.{c}" for c in _CS if not c[-1].isdigit()] + ["stat.ML"]
                         + [x for x in _OTHER if x != "stat.ML"] + [f"math.{c}" for c in _MATH if not c[-1].isdigit()]
                         + [f"physics.{c}" for c in _PHYS])[:150]
# primary categories: a power law over the list (cs.LG first), so a few hubs carry most papers
_PRIMARY_CUM = list(accumulate(1.0 / (k + 1) ** 1.15 for k in range(len(CATEGORIES))))
# cross-lists lean on the machine-learning hubs, as arXiv's do
_CROSS = ["cs.LG"] * 10 + ["stat.ML"] * 4 + ["cs.AI"] * 4 + ["cs.CL"] * 2 + ["cs.CV"] * 2 + CATEGORIES

FIRST = ("Anna Ben Chen Dmitri Elif Fatima Giulia Hiro Ines Jörg Kwame Léa Mateo Nadia Olu Priya Quentin Rosa "
         "Sven Tomás Uma Viktor Wei Yara Zoe Amir Bianca Carlos Dana Emil Farah Gustav Hana Ivan Julia Kenji "
         "Lars Maya Nikolai Omar Paula Rafael Sara Timo Ulla Vera Willem Ximena Yusuf Zara Aiko Bruno Clara "
         "Diego Eva Felix Grace Hugo Ida Jonas").split()
LAST = [("Müller", 'M\\"uller'), ("García", "Garc\\'ia"), ("Öztürk", '\\"Ozt\\"urk'), ("Dvořák", "Dvo\\v{r}\\'ak"),
        ("Šimić", "\\v{S}imi\\'c")] + [(x, x) for x in (
            "Smith Nguyen Kowalski Okafor Rossi Tanaka Dubois Silva Ivanova Kim Patel Haddad Larsen Novak Cohen "
            "Ahmed Fischer Moreau Sato Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He "
            "Lin Luo Gao Zheng Liang Xie Song Tang Han Feng Deng Cao Peng Zeng Lu Su Jiang Cai Jia Ding Wei "
            "Shen Yu Du Ye Cheng Yuan Pan Dong Fan Johnson Brown Jones Miller Davis Wilson Anderson Taylor "
            "Thomas Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen King "
            "Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner "
            "Torres Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Peterson Cooper Reed Bailey "
            "Bell Gomez Kelly Howard Ward Cox Diaz Richardson Wood Watson Brooks Bennett Gray James Reyes Cruz "
            "Hughes Price Myers Long Foster Sanders Ross Morales Powell Sullivan Russell Ortiz Jenkins Gutierrez "
            "Perry Butler Barnes Fisher Henderson Coleman Simmons Patterson Jordan Reynolds Hamilton Graham "
            "Schmidt Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter Klein Wolf Schröder Neumann").split()]
TERMS = ("causal abstraction probing interventions representations sparse autoencoders circuits attention "
         "superposition features steering alignment divergence subspace patching transformers grokking language "
         "models linear geometry faithfulness attribution interchange accuracy optimal transport held-out "
         "partitions vectors entity binding logit difference neural networks learning deep graph reinforcement "
         "policy gradient diffusion generative adversarial convolutional recurrent memory retrieval benchmark "
         "dataset evaluation robustness adversarial privacy federated optimization stochastic convergence "
         "bounds kernel bayesian inference variational posterior sampling markov chain monte carlo "
         "segmentation detection tracking reconstruction translation summarization question answering dialogue "
         "reasoning planning agents multi-agent game theory equilibrium mechanism auction fairness bias "
         "calibration uncertainty quantum field theory gauge symmetry black holes cosmology galaxies spectra "
         "lattice phase transition topological superconductivity spin glass dynamics chaos turbulence").split()
_SYLLABLES = "ka lo mi ne ru ta vo xi ze pa qu be di fo gu hy ja ki lu mo".split()


def _vocabulary(size: int = 2500) -> tuple[list[str], list[float]]:
    """Research terms then made-up words, with Zipf cumulative weights (common words first)."""
    words = list(dict.fromkeys(TERMS))
    k = 0
    while len(words) < size:
        a, b, c = k % 20, (k // 20) % 20, (k // 400) % 20
        words.append(_SYLLABLES[a] + _SYLLABLES[b] + _SYLLABLES[c] + "n")
        k += 1
    return words, list(accumulate(1.0 / (r + 1) ** 1.05 for r in range(len(words))))


WORDS, _WORD_CUM = _vocabulary()
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def author_name(k: int) -> tuple[str, str, str]:
    """The k-th person of the pool: (first name with middle initial, surname, surname as LaTeX)."""
    a, b, c = k % len(FIRST), (k // len(FIRST)) % 26, k // (len(FIRST) * 26)
    last, latex = LAST[(c + 7 * a + 13 * b) % len(LAST)]  # a shift per (a, b): the names stay distinct
    return f"{FIRST[a]} {chr(65 + b)}.", last, latex


def arxiv_id(i: int) -> str:
    """The i-th paper's id: new-style by month from January 2008, one in 40 old-style."""
    if i % 40 == 0:
        k = i // 40
        archive = ("hep-th", "cond-mat", "math", "cs", "quant-ph")[k % 5]
        month = (k // 5) // 999
        return f"{archive}/{(92 + month // 12) % 100:02d}{month % 12 + 1:02d}{(k // 5) % 999 + 1:03d}"
    month = i // PER_MONTH
    return f"{(8 + month // 12) % 100:02d}{month % 12 + 1:02d}.{i % PER_MONTH + 1:05d}"


def _date(rng: random.Random, year: int) -> tuple[str, str]:
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    return (f"{DAYS[day % 7]}, {day} {MONTHS[month - 1]} {year} {rng.randint(0, 23):02d}:{rng.randint(10, 59)}:07 GMT",
            f"{year}-{month:02d}-{day:02d}")


def _words(rng: random.Random, n: int) -> list[str]:
    return rng.choices(WORDS, cum_weights=_WORD_CUM, k=n)


def paper_line(i: int, n_authors: int, seed: int = 0) -> dict[str, Any]:
    """The snapshot object of paper ``i`` (a pure function of its arguments)."""
    rng = random.Random(seed * 1_000_003 + i)
    pid = arxiv_id(i)
    year = 2008 + (i // PER_MONTH) // 12 if "/" not in pid else 1992 + ((i // 200) // 999) // 12
    k = rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 6, 8))
    people = []
    for _ in range(k):
        who = int(n_authors * rng.random() ** 1.8)
        if who not in people:
            people.append(who)
    names = [author_name(p) for p in people]
    versions = [_date(rng, year)]
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
        versions.append(_date(rng, year + 1))
    cats = [CATEGORIES[rng.choices(range(len(CATEGORIES)), cum_weights=_PRIMARY_CUM)[0]]]
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        cross = rng.choice(_CROSS)
        if cross not in cats:
            cats.append(cross)
    title = " ".join(_words(rng, rng.randint(6, 11))).capitalize()
    if i % 13 == 0:
        title = f"$\\beta$-{title}"
    abstract = "  " + " ".join(_words(rng, rng.randint(30, 60))).capitalize() + ".\n  " + \
        " ".join(_words(rng, rng.randint(10, 20))).capitalize() + ".\n"
    if i % 10 == 3:  # some math, as physics and theory abstracts have
        abstract += f"  We prove an $O(n^{{{rng.randint(2, 4)}}} \\log n)$ bound for $\\alpha > {rng.randint(1, 9)}$.\n"
    return {
        "id": pid, "submitter": f"{names[0][0]} {names[0][1]}",
        "authors": ", ".join(f"{first} {latex}" for first, _, latex in names),
        "title": title, "comments": f"{rng.randint(5, 40)} pages, {rng.randint(1, 12)} figures",
        "journal-ref": f"J. Synth. Res. {rng.randint(1, 40)} ({year + 1})" if i % 5 == 0 else None,
        "doi": f"10.5555/synth.{i}" if i % 4 == 0 else None, "report-no": None,
        "categories": " ".join(cats), "license": None, "abstract": abstract,
        "versions": [{"version": f"v{n + 1}", "created": c} for n, (c, _) in enumerate(versions)],
        "update_date": versions[-1][1],
        "authors_parsed": [[latex, first, ""] for first, _, latex in names],
    }


_BROKEN = ('{"id": "2401.00001", "title": "cut sh', '{"title": "no id here"}', '["not", "an", "object"]')


def snapshot_lines(papers: int, seed: int = 0) -> Iterator[str]:
    """The snapshot's lines, one at a time: ``papers`` distinct papers, with repeats and broken lines among them."""
    n_authors = max(10, int(papers * AUTHOR_SHARE))
    line = 0
    for i in range(papers):
        line += 1
        if line % BROKEN_EVERY == 0:
            yield _BROKEN[(line // BROKEN_EVERY) % 3]
            line += 1
        if line % REPEAT_EVERY == 0 and i > 0:
            j = random.Random(seed * 7919 + line).randrange(i)
            again = paper_line(j, n_authors, seed)
            again["versions"] = again["versions"] + [{"version": f"v{len(again['versions']) + 1}",
                                                     "created": "Tue, 3 Dec 2024 10:00:00 GMT"}]
            yield json.dumps(again, ensure_ascii=False)
            line += 1
        yield json.dumps(paper_line(i, n_authors, seed), ensure_ascii=False)


def write_snapshot(path: Path, papers: int, seed: int = 0) -> dict[str, int]:
    """Write the snapshot to ``path`` as a stream; return lines, bytes, repeats and broken lines."""
    counts = {"papers": papers, "lines": 0, "repeats": 0, "broken": 0}
    with path.open("w", encoding="utf-8") as fh:
        for text in snapshot_lines(papers, seed):
            counts["lines"] += 1
            if not text.startswith('{"id": "') or text.endswith("cut sh"):
                counts["broken"] += 1
            fh.write(text + "\n")
    counts["repeats"] = counts["lines"] - counts["broken"] - papers
    counts["bytes"] = path.stat().st_size
    return counts


# ---- what the snapshot does not carry: findings, and typed edges through graph.bulk ---------------
_METRICS = ("IIA", "accuracy", "EMD", "logit_diff", "KL", "faithfulness", "AUC", "F1")


def findings(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` finding nodes (ids given), each with one measurement stated as data."""
    rng = random.Random(seed + 17)
    out = []
    for k in range(n):
        metric = _METRICS[k % len(_METRICS)]
        value, err = round(rng.random(), 4), round(rng.uniform(0.0005, 0.02), 4)
        words = " ".join(_words(rng, rng.randint(5, 9)))
        out.append({"id": f"finding:scale-{k}", "kind": "finding",
                    "title": f"{words.capitalize()}: {metric} {value:.3f}±{err:.3f} (#{k})",
                    "description": " ".join(_words(rng, 25)).capitalize() + ".", "attrs": {},
                    "source": {"document": "synthetic"},
                    "measurements": [{"metric": metric, "value": value, "err": err, "err_kind": "sem",
                                      "n": rng.randint(2, 20)}]})
    return out


def typed_edges(papers: list[str], finding_ids: list[str], similar_per_paper: float,
                chunk: int = 100_000, seed: int = 0) -> Iterator[list[tuple[str, str, str, dict]]]:
    """Edges in chunks of about ``chunk`` sources' worth, each chunk free of repeats and of edges of another
    chunk (a chunk owns its sources): papers ``listed_similar`` to about ``similar_per_paper`` papers (targets
    drawn with a power law: a few papers are listed by thousands); each finding ``extracted_from`` one paper,
    ``associated_with`` two findings, one in 20 ``replicates`` another and one in 5 ``listed_similar`` a paper."""
    rng = random.Random(seed + 29)
    n = len(papers)
    for start in range(0, n, chunk):
        out: list[tuple[str, str, str, dict]] = []
        for a in range(start, min(n, start + chunk)):
            seen: set[int] = set()
            for _ in range(int(similar_per_paper) + (rng.random() < similar_per_paper % 1)):
                b = int(n * rng.random() ** 2.2)
                if b != a and b not in seen:
                    seen.add(b)
                    out.append((papers[a], "listed_similar", papers[b], {"score": round(rng.uniform(0.5, 0.95), 3)}))
        yield out
    m = len(finding_ids)
    for start in range(0, m, chunk):
        out = []
        for a in range(start, min(m, start + chunk)):
            f = finding_ids[a]
            out.append((f, "extracted_from", papers[int(n * rng.random() ** 1.5)], {}))
            others = {int(m * rng.random()) for _ in range(2)} - {a}
            out += [(f, "associated_with", finding_ids[b], {}) for b in sorted(others)]
            if a % 20 == 0 and a + 1 < m:
                out.append((f, "replicates", finding_ids[a + 1 + int((m - a - 1) * rng.random())], {}))
            if a % 5 == 0:
                out.append((f, "listed_similar", papers[int(n * rng.random())], {"score": 0.8}))
        yield out
