"""The one statistics helper and the one agreement rule (graph.stats)."""
import math

import pytest

from graph.stats import agreement, summarize


def test_mean_and_sem_use_the_sample_standard_deviation():
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5
    # sample std (ddof=1) of 1..4 is sqrt(5/3); SEM = that / 2
    assert s.sem == pytest.approx(math.sqrt(5 / 3) / 2)
    assert s.n == 4
    assert s.to_json() == {"mean": 2.5, "sem": pytest.approx(0.6454972), "n": 4}


def test_one_value_has_no_sem_and_empty_or_missing_is_refused():
    one = summarize([0.7])
    assert (one.mean, one.sem, one.n) == (0.7, None, 1)
    assert one.text(2) == "0.70 (n=1)"
    with pytest.raises(ValueError, match="empty"):
        summarize([])
    with pytest.raises(ValueError, match="missing"):
        summarize([1.0, None])
    kept = summarize([1.0, None, float("nan"), 3.0], skip_missing=True)
    assert (kept.mean, kept.n) == (2.0, 2)


def test_agreement_is_two_combined_standard_errors():
    # combined error 0.005 (3-4-5): agree up to |Δ| = 0.010, not beyond
    assert agreement(1.0, 0.003, 1.0099, 0.004)["agrees"] is True
    v = agreement(1.0, 0.003, 1.0101, 0.004)
    assert v["agrees"] is False
    assert v["combined_err"] == pytest.approx(0.005)
    assert v["z"] == pytest.approx(2.02)
    # no error on either side: only equal values agree
    assert agreement(0.5, None, 0.5, None)["agrees"] is True
    assert agreement(0.5, None, 0.5001, 0.0)["agrees"] is False
