"""Price Tagging generator: labels on hand-checked cases, counterfactual labels, balance, tokenisation."""
from __future__ import annotations

from engine.pricetag import (CompactTokenizer, CounterfactualPair, PriceTag, alpaca_prompt, sample_factual,
                             sample_pairs)


def tag(lower: float, upper: float, amount: float) -> PriceTag:
    return PriceTag(round(lower * 100), round(upper * 100), round(amount * 100))


def test_factual_labels_hand_checked():
    assert tag(1.50, 6.00, 3.00).label is True
    assert tag(1.50, 6.00, 1.50).label is True  # both bounds inclusive
    assert tag(1.50, 6.00, 6.00).label is True
    below = tag(1.50, 6.00, 1.49)
    assert (below.left, below.right, below.label) == (False, True, False)
    above = tag(1.50, 6.00, 6.01)
    assert (above.left, above.right, above.label) == (True, False, False)
    assert tag(0.05, 2.55, 9.99).label is False


def test_counterfactual_label_sets_left_from_source():
    inside = tag(1.50, 6.00, 3.00)  # left True, right True
    below = tag(4.00, 8.00, 2.00)  # left False, right True
    above = tag(1.00, 4.00, 7.00)  # left True, right False
    assert CounterfactualPair(inside, below).label is False  # left(source)=False
    assert CounterfactualPair(below, inside).label is True  # base's right True, source's left True
    assert CounterfactualPair(above, inside).label is False  # base's right False whatever the source
    assert CounterfactualPair(inside, above).label is True  # source's left True, its right does not matter
    assert CounterfactualPair(inside, below).changes_label
    assert not CounterfactualPair(inside, above).changes_label


def test_sampling_ranges_and_balance():
    for ex in sample_factual(2000, seed=1):
        width = ex.upper - ex.lower
        assert 250 <= width <= 750
        assert 5 <= ex.lower and ex.upper <= 995
        assert 1 <= ex.amount <= 999
    pairs = sample_pairs(1001, seed=2)
    assert len(pairs) == 1001
    assert sum(p.label for p in pairs) == 501
    assert sample_pairs(50, seed=3) == sample_pairs(50, seed=3)
    share_kept = sum(not p.changes_label for p in pairs) / len(pairs)
    assert 0.55 < share_kept < 0.8  # why a no-op intervention already scores well on raw IIA


def test_compact_tokenizer_and_alpaca_prompt():
    tok = CompactTokenizer()
    ex = tag(1.50, 6.05, 3.07)
    ids = tok.encode(ex)
    assert len(ids) == tok.prompt_length == 16
    assert tok.decode(ids) == "between 1 . 5 0 and 6 . 0 5 : 3 . 0 7 ?"
    assert tok.vocab_size == 18
    text = alpaca_prompt(ex)
    assert "Please say yes only if it costs between 1.50 and 6.05 dollars, otherwise no." in text
    assert "### Input:\n3.07 dollars" in text and text.endswith("### Response:\n")
