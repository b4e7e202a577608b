"""The four document parsers, on the real seeds (exact expectations) and on documents written here.

Pure: no database, no model. The last tests feed garbage and mangled seeds and expect ValueError or a
well-formed document, never another exception.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.documents import ParsedDocument
from graph.parsers import FORMATS, detect_format, parse
from graph.parsers.abstract_dump import split_trailing_names
from graph.parsers.common import parse_author_list
from graph.parsers.finding_page import split_slug_title
from graph.parsers.noise import content_lines, is_noise
from graph.vocabulary import check_edge

SEEDS = Path(__file__).parent.parent / "seeds"


def seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def kinds(doc: ParsedDocument) -> dict[str, int]:
    return dict(Counter(n.kind for n in doc.nodes))


def edge_types(doc: ParsedDocument) -> dict[str, int]:
    return dict(Counter(e.type for e in doc.edges))


def edges(doc: ParsedDocument, edge_type: str) -> list[tuple[str, str, dict]]:
    return [(e.source, e.target, e.attrs) for e in doc.edges if e.type == edge_type]


def assert_well_formed(doc: ParsedDocument) -> None:
    """Unique keys, edges between known nodes and allowed by the vocabulary, one-line warnings."""
    keys = [n.key for n in doc.nodes]
    assert len(keys) == len(set(keys))
    by_key = {n.key: n for n in doc.nodes}
    for e in doc.edges:
        check_edge(e.type, by_key[e.source].kind, by_key[e.target].kind)
    for n in doc.nodes:
        assert n.title and n.title == n.title.strip()
        assert n.description == n.description.strip()
    for w in doc.warnings:
        assert w and "\n" not in w


# --- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "fmt"),
    [("000", "finding-page"), ("001", "paper-card"), ("002", "paper-page"), ("003", "abstract-dump")],
)
def test_detect_format_on_seeds(prefix: str, fmt: str) -> None:
    assert detect_format(seed(prefix)) == fmt
    doc = parse(seed(prefix), source=f"{prefix}.txt")
    assert doc.format == fmt and doc.source == f"{prefix}.txt"
    assert_well_formed(doc)


def test_formats_tuple() -> None:
    assert FORMATS == ("finding-page", "paper-card", "paper-page", "abstract-dump")


# --- 000: finding page ------------------------------------------------------------------------


def test_finding_page_seed() -> None:
    doc = parse(seed("000"), "000.txt")
    assert kinds(doc) == {"finding": 9, "paper": 1, "author": 4, "claim": 1}
    assert edge_types(doc) == {"authored_by": 4, "extracted_from": 1, "associated_with": 1, "supports": 1,
                               "listed_similar": 8}
    main = doc.node("finding:page")
    assert main.title == ("For small CL loss weights epsilon, IIA is maintained (potentially improved) while "
                          "EMD decreases in Boundless DAS on a 7B LLM")
    assert main.preferred_id == ("finding:for-small-cl-loss-weights-epsilon-iia-is-maintained-potentially-"
                                 "improved-while-emd-decreases-in-boundless-das-on-a-7b-llm")
    assert main.description == ("Empirical result showing the CL loss can reduce divergence without "
                                "sacrificing interpretability accuracy")
    assert main.attrs == {"status": "active"}

    paper = doc.node("paper:source")
    assert paper.title == "Untitled paper (2025) by Satchel Grant et al."
    assert paper.attrs == {"year": 2025, "match_by_authors_year": True,
                           "authors": ["Satchel Grant", "Simon Jerome Han", "Alexa R. Tartaglini",
                                       "Christopher Potts"]}
    assert edges(doc, "extracted_from") == [("finding:page", "paper:source", {"year": 2025})]
    assert [(t, a["position"]) for _, t, a in edges(doc, "authored_by")] == [
        ("author:Satchel Grant", 0), ("author:Simon Jerome Han", 1), ("author:Alexa R. Tartaglini", 2),
        ("author:Christopher Potts", 3)]

    claim = doc.node("claim:0")
    assert claim.title == ("The CL auxiliary loss can directly reduce representational divergence in practical "
                           "interpretability settings without sacrificing interpretability method accuracy")
    assert claim.description == ("Central practical contribution: the CL loss offers a viable mitigation "
                                 "strategy")
    claim_edges = [(e.type, e.source, e.target) for e in doc.edges if e.target == "claim:0"]
    assert claim_edges == [("associated_with", "finding:page", "claim:0"), ("supports", "finding:page", "claim:0")]

    similar = edges(doc, "listed_similar")
    assert [a for _, _, a in similar] == [
        {"score": 0.785}, {"score": 0.784}, {"score": 0.78}, {"score": 0.775}, {"score": 0.766},
        {"truncated": True}, {"score": 0.764}, {"truncated": True}]
    first = doc.node(similar[0][1])
    assert first.kind == "finding"
    assert first.title == ("Modified CL loss produces EMD along feature dimensions of 0.007±0.001 on synthetic "
                           "10-class dataset")
    assert first.description == ("Quantitative improvement in divergence reduction using the modified CL loss "
                                 "on synthetic dataset")
    office = doc.node(similar[6][1])
    assert office.title == ("DB-MTL with EMA forgetting rate β in a wide range performs better than without EMA "
                            "(β=0) on Office-31.")
    assert office.description == "Effect of EMA forgetting rate on performance."
    cut = doc.node(similar[5][1])
    assert (cut.kind, cut.title, cut.description, cut.attrs) == (
        "finding", "Training stability analysis.", "", {"truncated": True})
    last = doc.node(similar[7][1])
    assert last.title == ("Proof-of-principle that MAS can detect model misalignment in DeepSeek-R1-Qwen-1.5B "
                          "fine-tuned models.")
    assert last.attrs == {"truncated": True}

    assert doc.warnings == [
        "similar entry cut short (no kind or score), kept as a truncated finding: 'Training stability analysis.'",
        "similar entry cut short (no kind or score), kept as a truncated finding: "
        "'Proof-of-principle that MAS can detect model misalignment i…'",
    ]


FINDING_PAGE = """\
finding
superseded
finding:das-reaches-high-iia-on-the-toy-taskDAS reaches high IIA on the toy task
Source paper
extracted_from(2024) · Jane Doe
Neighborhood — ranked by edge-count
Claims (2)
claim
- Rotations suffice for what DAS measurescontradictsThe run speaks against it
- DAS finds causal variables; this supports the ideasupportsassociated_withShared idea
Related by similarity (3)
cosine ≥ 0.65 · no typed edgeEntities in the same semantic neighborhood
- Interpretability illusions in simplified modelspaper0.701A paper on proxies
- Some cut entry
Join ArxivLens to unlock AI-powered paper summaries, collections, and more research tools!
"""


def test_finding_page_written() -> None:
    """No description line, a one-author source, edge-type words inside claim texts ("measures" glued,
    "supports" as a plain word), a paper listed as similar, a cut entry, a wrong count, noise at the end."""
    doc = parse(FINDING_PAGE, "pasted text")
    assert_well_formed(doc)
    main = doc.node("finding:page")
    assert (main.title, main.description, main.attrs) == ("DAS reaches high IIA on the toy task", "",
                                                          {"status": "superseded"})
    assert main.preferred_id == "finding:das-reaches-high-iia-on-the-toy-task"
    assert doc.node("paper:source").title == "Untitled paper (2024) by Jane Doe"
    assert doc.node("claim:0").title == "Rotations suffice for what DAS measures"
    assert doc.node("claim:1").title == "DAS finds causal variables; this supports the idea"
    assert doc.node("claim:1").description == "Shared idea"
    assert [(e.type, e.target) for e in doc.edges if e.target.startswith("claim:")] == [
        ("contradicts", "claim:0"), ("supports", "claim:1"), ("associated_with", "claim:1")]
    similar = [(doc.node(t).kind, doc.node(t).title, a) for _, t, a in edges(doc, "listed_similar")]
    assert similar == [("paper", "Interpretability illusions in simplified models", {"score": 0.701}),
                       ("finding", "Some cut entry", {"truncated": True})]
    assert doc.warnings == [
        "similar entry cut short (no kind or score), kept as a truncated finding: 'Some cut entry'",
        "'Related by similarity (3)' says 3 entries but 2 were found",
    ]


def test_split_slug_title() -> None:
    assert split_slug_title("7b-models-fail7B models fail") == ("7b-models-fail", "7B models fail")
    assert split_slug_title("iia-holdsiia holds") == ("iia-holds", "iia holds")
    assert split_slug_title("for-small-cl-lossFor small CL loss weights") == (
        "for-small-cl-loss", "For small CL loss weights")  # a slug cut shorter than its title
    assert split_slug_title("NoSlugHere") is None


def test_finding_page_without_id_line_is_refused() -> None:
    with pytest.raises(ValueError, match="not a finding page"):
        parse("finding\nactive\nno id line here\n", "x", fmt="finding-page")


# --- 001: paper card --------------------------------------------------------------------------


def test_paper_card_seed() -> None:
    doc = parse(seed("001"), "001.txt")
    assert kinds(doc) == {"paper": 1, "author": 7}
    assert edge_types(doc) == {"authored_by": 7}
    assert doc.warnings == []
    paper = doc.node("paper:0")
    assert paper.title == "Beyond Interpretability: The Gains of Feature Monosemanticity on Model Robustness"
    assert paper.attrs["authors"] == ["Qi Zhang", "Yifei Wang", "Jingyi Cui", "Xiang Pan", "Qi Lei",
                                      "Stefanie Jegelka", "Yisen Wang"]
    assert paper.attrs["venue"] == "ICLR 2025"
    assert paper.attrs["year"] == 2025
    repro = paper.attrs["reproducibility"]
    assert list(repro) == ["research_type", "researcher_affiliation", "pseudocode", "open_source_code",
                           "open_datasets", "dataset_splits", "hardware_specification", "software_dependencies",
                           "experiment_setup"]
    assert {k: v["result"] for k, v in repro.items()} == {
        "research_type": "Experimental", "researcher_affiliation": "Academia", "pseudocode": "No",
        "open_source_code": "Yes", "open_datasets": "Yes", "dataset_splits": "Yes",
        "hardware_specification": "No", "software_dependencies": "No", "experiment_setup": "Yes"}
    assert repro["open_source_code"]["evidence"] == (
        "Code is available at https://github.com/PKU-ML/Monosemanticity-Robustness.")
    assert repro["experiment_setup"]["evidence"].endswith("scaling factor α = 4, and dropout rate 0.1 as default.")
    assert [(t, a) for _, t, a in edges(doc, "authored_by")][:2] == [
        ("author:Qi Zhang", {"position": 0}), ("author:Yifei Wang", {"position": 1})]


PAPER_CARD = """\
A Small Card Title
NeurIPS 2023 | Venue PDF | Supplement
| Reproducibility Variable | Result | LLM Response |
|---|---|---|
| Research Type | Experimental | We run experiments | with a pipe in the evidence |
| Pseudocode | Yes
Comments (0)
"""


def test_paper_card_written() -> None:
    """No author line, an unknown cell on the venue line, a pipe inside evidence, a cut row, noise."""
    doc = parse(PAPER_CARD, "card.txt")
    assert_well_formed(doc)
    assert kinds(doc) == {"paper": 1}
    paper = doc.node("paper:0")
    assert paper.attrs == {
        "venue": "NeurIPS 2023", "year": 2023,
        "reproducibility": {
            "research_type": {"result": "Experimental", "evidence": "We run experiments | with a pipe in the evidence"},
            "pseudocode": {"result": "Yes", "evidence": ""},
        },
    }
    assert doc.warnings == ["venue line: could not place 'Supplement'",
                            "table row 'Pseudocode' is cut short (no evidence)"]


# --- 002: paper page --------------------------------------------------------------------------


def test_paper_page_seed() -> None:
    doc = parse(seed("002"), "002.txt")
    assert kinds(doc) == {"paper": 5, "category": 2, "author": 9}
    assert edge_types(doc) == {"in_category": 2, "authored_by": 9, "listed_similar": 4}
    assert doc.warnings == []
    paper = doc.node("paper:0")
    assert paper.title == "Interpretability Illusions in the Generalization of Simplified Models"
    assert paper.description.startswith("A common method to study deep learning systems is to use simplified "
                                         "model representations--for example, using singular value")
    assert paper.description.endswith("can reliably predict what a model will do in novel situations.")
    assert "\n" not in paper.description and "  " not in paper.description
    assert paper.attrs == {"categories": ["cs.LG", "cs.CL"], "published": "2024-06-06", "year": 2024,
                           "citations": 14, "source": "paper-page"}
    assert [(n.key, n.title, n.attrs) for n in doc.nodes if n.kind == "category"] == [
        ("category:cs.LG", "cs.LG", {"taxonomy": "arxiv"}), ("category:cs.CL", "cs.CL", {"taxonomy": "arxiv"})]
    assert edges(doc, "in_category") == [
        ("paper:0", "category:cs.LG", {"confidence": 1.0, "taxonomy": "arxiv"}),
        ("paper:0", "category:cs.CL", {"confidence": 1.0, "taxonomy": "arxiv"})]

    similar = [(doc.node(t).title, doc.node(t).attrs, a) for s, t, a in edges(doc, "listed_similar")]
    assert similar == [
        ("Interpretability Illusions with Sparse Autoencoders: Evaluating Robustness of Concept Representations",
         {"authors": ["Aaron J. Li", "Suraj Srinivas", "Usha Bhalla"], "authors_truncated": True,
          "published": "2025-05-21", "year": 2025}, {"rank": 1}),
        ("Towards Better Generalization and Interpretability in Unsupervised Concept-Based Models",
         {"authors": ["Francesco De Santis", "Philippe Bich", "Gabriele Ciravegna"], "authors_truncated": True,
          "published": "2025-06-02", "year": 2025}, {"rank": 2}),
        ("Building Data-driven Models with Microstructural Images: Generalization and Interpretability",
         {"published": "2017-11-02", "year": 2017}, {"rank": 3}),
        ("Grounding Visual Illusions in Language: Do Vision-Language Models Perceive Illusions Like Humans?",
         {"authors": ["Yichi Zhang", "Jiayi Pan", "Yuchen Zhou"], "authors_truncated": True,
          "published": "2023-11-02", "year": 2023}, {"rank": 4}),
    ]
    assert ("paper:similar:2", "author:Francesco De Santis", {"position": 0}) in edges(doc, "authored_by")


PAPER_PAGE = """\
Join ArxivLens to unlock AI-powered paper summaries, collections, and more research tools!
Paper Info
Title
A Tiny Paper
Authors
Alice Smith, Bob Jones
Abstract
We study things
across two lines.
Categories
stat.ML cs.LG
Published
2023-02-30
Similar Papers
Found 2 papersFirst Similar Paper
Carol King et al.
2022-01-01
Second Similar Paper
Dan Brown
2021-05-05
Third Similar Paper Without Date
This website uses cookies to ensure you get the best experience.
Comments (3)
"""


def test_paper_page_written() -> None:
    """Authors present, an impossible date, a single-author entry, a cut last entry, a wrong count."""
    doc = parse(PAPER_PAGE, "page.txt")
    assert_well_formed(doc)
    paper = doc.node("paper:0")
    assert paper.description == "We study things across two lines."
    assert paper.attrs == {"authors": ["Alice Smith", "Bob Jones"], "categories": ["stat.ML", "cs.LG"],
                           "source": "paper-page"}
    assert edges(doc, "authored_by")[:2] == [("paper:0", "author:Alice Smith", {"position": 0}),
                                             ("paper:0", "author:Bob Jones", {"position": 1})]
    similar = [(doc.node(t).title, doc.node(t).attrs) for _, t, _ in edges(doc, "listed_similar")]
    assert similar == [
        ("First Similar Paper", {"authors": ["Carol King"], "authors_truncated": True, "published": "2022-01-01",
                                 "year": 2022}),
        ("Second Similar Paper", {"authors": ["Dan Brown"], "published": "2021-05-05", "year": 2021}),
        ("Third Similar Paper Without Date", {}),
    ]
    assert doc.warnings == [
        "could not read the published date '2023-02-30'",
        "similar paper has no date: 'Third Similar Paper Without Date'",
        "'Found 2 papers' but 3 similar papers were read",
    ]


def test_paper_page_without_title_is_refused() -> None:
    with pytest.raises(ValueError, match="no title"):
        parse("Title\nAbstract\nSome abstract text.\n", "x")


# --- 003: abstract dump -----------------------------------------------------------------------


def test_abstract_dump_seed() -> None:
    doc = parse(seed("003"), "003.txt")
    assert kinds(doc) == {"paper": 6, "author": 14, "category": 28}
    assert edge_types(doc) == {"authored_by": 14, "subcategory_of": 22, "in_category": 14}
    papers = [n for n in doc.nodes if n.kind == "paper"]
    assert [p.title for p in papers] == [
        "Text-Guided Attention is All You Need for Zero-Shot Robustness in Vision-Language Models",
        "Provable and Efficient Dataset Distillation for Kernel Ridge Regression",
        "Decomposition of Small Transformer Models",
        "Toward Reliable Machine Unlearning: Theory, Algorithms, and Evaluation",
        "Generalized Parallel Scaling with Interdependent Generations",
        "Identifying Functionally Important Features with End-to-End Sparse Dictionary Learning",
    ]
    assert [p.attrs.get("authors") for p in papers] == [
        None,
        None,
        ["Casper L. Christensen", "Logan Riggs"],
        None,
        ["Harry Dong", "David Brandfonbrener", "Eryk Helenowski", "Yun He", "Mrinal Kumar", "Han Fang",
         "Yuejie Chi", "Karthik Abinav Sankararaman"],
        ["Dan Braun", "Jordan Taylor", "Nicholas Goldowsky-Dill", "Lee Sharkey"],
    ]
    assert all(p.attrs["source"] == "abstract-dump" for p in papers)
    assert papers[0].description.startswith("CLIP), have attracted widespread attention")
    assert papers[1].description.endswith("while being significantly more efficient, e.g.")
    assert papers[3].attrs["more_tags"] == {"places": 4}
    assert all("more_tags" not in p.attrs for i, p in enumerate(papers) if i != 3)

    def tags(key: str) -> list[tuple[str, float, str]]:
        return [(doc.node(t).title, a["confidence"], a["taxonomy"])
                for s, t, a in edges(doc, "in_category") if s == key]

    assert tags("paper:3") == [
        ("North America > United States > Illinois > Champaign County > Urbana", 0.13, "places"),
        ("North America > United States > California", 0.04, "places"),
        ("North America > Canada > Ontario > Toronto", 0.04, "places"),
        ("Research Report > New Finding", 1.0, "document_types"),
        ("Research Report > Promising Solution", 0.66, "document_types"),
        ("Information Technology > Security & Privacy", 1.0, "topics"),
        ("Law", 0.67, "topics"),
    ]
    assert tags("paper:4") == [
        ("North America > United States > Pennsylvania > Allegheny County > Pittsburgh", 0.04, "places"),
        ("Asia > Middle East > Jordan", 0.04, "places"),
        ("North America > Canada > British Columbia > Metro Vancouver Regional District > Vancouver", 0.04,
         "places"),
    ]
    # The final block (New York, Ann Arbor, Cambridge, two document types) follows no abstract.
    assert tags("paper:5") == [
        ("Asia > Middle East > Jordan", 0.4, "places"),
        ("Oceania > Australia > Queensland", 0.04, "places"),
        ("Research Report > New Finding", 1.0, "document_types"),
        ("Research Report > Experimental Study", 1.0, "document_types"),
    ]
    assert tags("paper:0") == tags("paper:1") == tags("paper:2") == []
    titles = {n.title for n in doc.nodes}
    assert not any("New York" in t or "Ann Arbor" in t or "Cambridge" in t for t in titles)
    assert "original model" not in titles and "A Appendix" not in titles

    law = doc.node("category:Law")
    assert (law.title, law.attrs) == ("Law", {"taxonomy": "topics", "name": "Law"})
    urbana = "category:North America > United States > Illinois > Champaign County > Urbana"
    assert doc.node(urbana).attrs == {"taxonomy": "places", "name": "Urbana"}
    assert (urbana, "category:North America > United States > Illinois > Champaign County", {}) in edges(
        doc, "subcategory_of")
    assert ("category:North America > United States", "category:North America", {}) in edges(doc, "subcategory_of")

    assert doc.warnings == [
        "could not place 3 line(s) at the start: 'original model', 'A Appendix', "
        "'A.1 Notation Summary of notations used…'",
        "abstract looks cut at the start (kept as is): "
        "'Text-Guided Attention is All You Need for Zero-Shot Robustn…'",
        "tag block follows no abstract, kept out of any paper (after 'Identifying Functionally Important Feat…'): "
        "North America > United States > New York (0.04); "
        "North America > United States > Michigan > Washtenaw County > Ann Arbor (0.04); "
        "Europe > United Kingdom > England > Cambridgeshire > Cambridge (0.04); +2 more",
    ]


ABSTRACT_DUMP = """\
Loading PDF...
3.2 Results continued from a previous page
Smith, John, Doe, Jane
A Study of Alignment Maps
Ada Lovelace, Alan Turing
We study alignment maps for causal abstraction and report when rotations suffice and when general \
linear maps are needed to align representations.
- Europe > United Kingdom > London (0.50)
- Research Report > New Finding (0.90)
- Information Technology (0.80)
- (2 more...)
Tagless Paper With Names Grace Hopper Edsger Dijkstra
This abstract talks about compilers and structured programming; it never mentions the people who wrote it.
Missing Authors Paper
An abstract with no author line before it, long enough to read as an abstract of a paper in the dump.
- Asia > Japan > Tokyo (0.20)
Cut Paper Title Only
Turing, Alan; Church, Alonzo
- Asia > Japan (0.20)
- Law (0.30)
"""


def test_abstract_dump_written() -> None:
    """A heading fragment and a stray author line, "First Last" authors, authors on the title line, a missing author line,
    "Last, First; …" authors, a "(N more...)" line for topics, a tag block with no abstract."""
    doc = parse(ABSTRACT_DUMP, "dump.txt")
    assert_well_formed(doc)
    papers = [n for n in doc.nodes if n.kind == "paper"]
    assert [(p.title, p.attrs.get("authors")) for p in papers] == [
        ("A Study of Alignment Maps", ["Ada Lovelace", "Alan Turing"]),
        ("Tagless Paper With Names", ["Grace Hopper", "Edsger Dijkstra"]),
        ("Missing Authors Paper", None),
        ("Cut Paper Title Only", ["Alan Turing", "Alonzo Church"]),
    ]
    assert papers[0].attrs["more_tags"] == {"topics": 2}
    assert [(s, doc.node(t).title) for s, t, _ in edges(doc, "in_category")] == [
        ("paper:0", "Europe > United Kingdom > London"),
        ("paper:0", "Research Report > New Finding"),
        ("paper:0", "Information Technology"),
        ("paper:2", "Asia > Japan > Tokyo"),
    ]
    # "Asia > Japan" exists only as the parent of Tokyo; "Law" is not made a category.
    assert doc.node("category:Asia > Japan").attrs == {"taxonomy": "places", "name": "Japan"}
    assert "category:Law" not in {n.key for n in doc.nodes}
    assert doc.warnings == [
        "could not place 2 line(s) at the start: '3.2 Results continued from a previous p…', "
        "'Smith, John, Doe, Jane'",
        "paper has no abstract: 'Cut Paper Title Only'",
        "tag block follows no abstract, kept out of any paper (after 'Cut Paper Title Only'): "
        "Asia > Japan (0.2); Law (0.3)",
    ]


def test_split_trailing_names() -> None:
    abstract = "We propose end-to-end sparse dictionary learning for features."
    assert split_trailing_names("End-to-End Sparse Dictionary Learning Dan Braun Lee Sharkey", abstract) == (
        "End-to-End Sparse Dictionary Learning", ["Dan Braun", "Lee Sharkey"])
    # Title words that recur in the abstract, or common title words, are not names.
    assert split_trailing_names("Robustness in Vision-Language Models", "CLIP is robust.") == (
        "Robustness in Vision-Language Models", [])
    assert split_trailing_names("Kernel Ridge Regression", "kernel ridge regression") == (
        "Kernel Ridge Regression", [])
    # Without an abstract nothing is split.
    assert split_trailing_names("Sparse Features Dan Braun", "") == ("Sparse Features Dan Braun", [])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Christensen, Casper L., Riggs, Logan", (["Casper L. Christensen", "Logan Riggs"], False)),
        ("Qi Zhang, Yifei Wang, Jingyi Cui", (["Qi Zhang", "Yifei Wang", "Jingyi Cui"], False)),
        ("Aaron J. Li, Suraj Srinivas, Usha Bhalla et al.", (["Aaron J. Li", "Suraj Srinivas", "Usha Bhalla"], True)),
        ("Francesco De Santis, Philippe Bich", (["Francesco De Santis", "Philippe Bich"], False)),
        ("Ada Lovelace and Alan Turing", (["Ada Lovelace", "Alan Turing"], False)),
        ("Turing, Alan; Church, Alonzo", (["Alan Turing", "Alonzo Church"], False)),
        ("Deep learning models are now trained on larger datasets", None),
        ("2025-05-21", None),
    ],
)
def test_parse_author_list(line: str, expected: object) -> None:
    assert parse_author_list(line) == expected


# --- noise ------------------------------------------------------------------------------------


def test_noise_lines() -> None:
    for line in ("Join ArxivLens to unlock AI-powered paper summaries, collections, and more research tools!",
                 "Page of -", "Loading PDF...", "Failed to load PDF. Please try again later.", "Paper Info",
                 "Comments", "Similar", "arXiv Link", "Replies (0)", "Comment Rejected",
                 "Your comment contains inappropriate language and has been rejected.",
                 "This website uses cookies to ensure you get the best experience.", "Learn more",
                 "Someone just found a breakthrough paper!", "Comments (0)",
                 "Neighborhood — ranked by edge-count",
                 "cosine ≥ 0.65 · no typed edgeEntities in the same semantic neighborhood"):
        assert is_noise(line), line
    for line in ("Similar Papers", "Title", "Comments on similar models are welcome.", "Learning"):
        assert not is_noise(line), line
    assert content_lines("Paper Info\n\n  Title  \nComments\n") == ["Title"]


# --- malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n\t\n", "empty"),
        ("\x00\x01\x02binary\x00", "binary"),
        ("Page of -\nLoading PDF...\nLearn more\n", "only page noise"),
        ("just some words", "unrecognised document format"),
    ],
)
def test_malformed_input_raises_value_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(text, "x")


def test_wrong_or_unknown_format_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        parse(seed("001"), "x", fmt="pdf")
    with pytest.raises(ValueError, match="not a paper page"):
        parse(seed("001"), "x", fmt="paper-page")
    with pytest.raises(ValueError, match="not a paper card"):
        parse(seed("002"), "x", fmt="paper-card")
    with pytest.raises(ValueError, match="not a finding page"):
        parse(seed("003"), "x", fmt="finding-page")
    with pytest.raises(ValueError, match="expected the document as text"):
        parse(123, "x")  # type: ignore[arg-type]


def _parse_or_value_error(text: str) -> None:
    for fmt in ("auto", *FORMATS):
        try:
            doc = parse(text, "fuzz", fmt)
        except ValueError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert_well_formed(doc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_garbage_raises_only_value_error(text: str) -> None:
    _parse_or_value_error(text)


_SEED_LINES = [line for prefix in ("000", "001", "002", "003") for line in seed(prefix).splitlines()]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(_SEED_LINES), st.text(max_size=40)), max_size=30),
       st.integers(min_value=0, max_value=400))
def test_mangled_seed_lines_raise_only_value_error(lines: list[str], cut: int) -> None:
    text = "\n".join(lines)
    _parse_or_value_error(text)
    _parse_or_value_error(text[:-cut] if cut else text)
