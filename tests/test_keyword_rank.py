"""Keyword search's ranking rule (db.keyword_rank) on both stores, and the title index kept in step."""
from __future__ import annotations

import pytest

from db.keyword_rank import MAX_GROUPS, ranked, search_words
from graph.api import Graph


def _ids(hits):
    return [n.id for n, _ in hits]


@pytest.fixture
def probes(store_url):
    """Titles of known lengths; every store must rank them alike."""
    g = Graph(store_url)
    made = {
        "short": g.add_node({"kind": "claim", "title": "Sparse probes"}),
        "mid_b": g.add_node({"kind": "claim", "title": "Sparse probes mislead B"}),
        "mid_a": g.add_node({"kind": "finding", "title": "Sparse probes mislead A"}),
        "long": g.add_node({"kind": "claim", "title": "Probes that are sparse and read the residual stream",
                            "status": "superseded"}),
        "desc": g.add_node({"kind": "finding", "title": "Another result",
                            "description": "We trained sparse probes on the residual stream."}),
        "one_word": g.add_node({"kind": "claim", "title": "Sparse autoencoders"}),
        "none": g.add_node({"kind": "claim", "title": "Unrelated words entirely"}),
    }
    return g, made


def test_titles_holding_every_word_come_first_shortest_first_then_the_full_text(probes):
    g, m = probes
    hits = g.search("sparse probes")
    equal_length = sorted([m["mid_a"], m["mid_b"]])  # ties by id
    assert _ids(hits) == [m["short"], *equal_length, m["long"], m["desc"]]
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(s >= 2 for s in scores[:4]) and 0 < scores[4] < 1  # title tier: words held + 1/(1 + length)
    assert scores[0] == pytest.approx(2 + 1 / (1 + len("Sparse probes")))
    # the title tier alone fills a short list
    assert _ids(g.search("sparse probes", limit=2)) == [m["short"], equal_length[0]]
    assert _ids(g.search("probe")) == _ids(hits)  # stemmed on both stores


def test_filters_apply_to_every_tier(probes):
    g, m = probes
    assert _ids(g.search("sparse probes", kind="finding")) == [m["mid_a"], m["desc"]]
    assert _ids(g.search("sparse probes", status="superseded")) == [m["long"]]
    assert _ids(g.search("residual", kind="finding")) == [m["desc"]]  # in no title: full text only


def test_any_word_when_no_node_holds_every_word(probes):
    g, m = probes
    hits = g.search("sparse unicorn probes")
    # titles holding two of the three words (shortest first), then one, then the full text
    assert _ids(hits) == [m["short"], *sorted([m["mid_a"], m["mid_b"]]), m["long"], m["one_word"], m["desc"]]
    scores = [s for _, s in hits]
    assert all(2 < s < 3 for s in scores[:4]) and 1 < scores[4] < 2 and scores[5] < 1
    assert g.search("zebra unicorn") == [] and g.search("!!!") == []


def test_description_hits_follow_when_titles_are_short(probes):
    g, m = probes
    hits = g.search("residual stream")  # one title holds both, one description does
    assert _ids(hits) == [m["long"], m["desc"]]


def test_the_rule_asks_the_full_text_only_when_titles_fall_short():
    asked = []

    def titles(groups, n):
        asked.append(("title", groups, n))
        return [(f"t{i}", 10 + i) for i in range(min(n, 3 if len(groups[0]) == 2 else 0))]

    def full_text(words, joiner, n):
        asked.append(("full", joiner, n))
        return [("t0", 9.0), ("d1", 3.0)]

    assert [i for i, _ in ranked(["a", "b"], 2, titles, full_text)] == ["t0", "t1"]
    assert [a[0] for a in asked] == ["title"]
    asked.clear()
    assert [i for i, _ in ranked(["a", "b"], 5, titles, full_text)] == ["t0", "t1", "t2", "d1"]
    assert asked[-1] == ("full", "AND", 8)  # enough rows to fill the list after the title hits it repeats
    # long queries skip levels with too many combinations
    words = [f"w{i}" for i in range(8)]
    asked.clear()
    ranked(words, 5, lambda groups, n: asked.append(len(groups)) or [], lambda *_: [])
    assert asked and max(asked) <= MAX_GROUPS and asked[-1] == len(words)
    assert search_words("Probes probes PROBES, sparse") == ["probes", "sparse"]


def _title_index_differences(g) -> set:
    """(term, key) entries where nodes_title and an index rebuilt from nodes differ."""
    with g.store.engine.begin() as conn:
        for sql in ("CREATE VIRTUAL TABLE temp.ref USING fts5(title, content='', tokenize='porter unicode61')",
                    "INSERT INTO temp.ref(rowid, title) SELECT (min(length(title), 4194303) << 40) | rowid AS k, "
                    "title FROM nodes ORDER BY k",
                    "CREATE VIRTUAL TABLE temp.v_index USING fts5vocab(main, nodes_title, instance)",
                    "CREATE VIRTUAL TABLE temp.v_ref USING fts5vocab(temp, ref, instance)"):
            conn.exec_driver_sql(sql)
        index = set(conn.exec_driver_sql("SELECT term, doc FROM temp.v_index").all())
        ref = set(conn.exec_driver_sql("SELECT term, doc FROM temp.v_ref").all())
        for name in ("v_index", "v_ref", "ref"):
            conn.exec_driver_sql(f"DROP TABLE temp.{name}")
    assert ref  # the check compares something
    return index ^ ref


def test_title_index_kept_in_step_on_insert_update_delete_and_bulk(tmp_path):
    g = Graph(str(tmp_path / "g.db"))
    a = g.add_node({"kind": "claim", "title": "Sparse probes mislead"})
    b = g.add_node({"kind": "claim", "title": "Wombat circuits"})
    assert _title_index_differences(g) == set()
    with g.store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE nodes SET title = 'Quokka heads in long contexts' WHERE id = ?", (a,))
        conn.exec_driver_sql("UPDATE nodes SET description = 'no title change' WHERE id = ?", (b,))
    assert _title_index_differences(g) == set()
    assert _ids(g.search("quokka")) == [a] and g.search("mislead") == []
    g.bulk_load([{"kind": "paper", "title": f"Numbat paper {i}"} for i in range(30)])
    assert _title_index_differences(g) == set()
    with g.store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM nodes WHERE id = ?", (b,))
    assert _title_index_differences(g) == set()
    assert g.search("wombat") == []
    c = g.add_node({"kind": "claim", "title": "Wombat circuits again"})  # the bulk path put the trigger back
    assert _title_index_differences(g) == set()
    assert len(g.search("numbat paper", limit=50)) == 30
    assert _ids(g.search("wombat")) == [c]
