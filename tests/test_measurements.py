import pytest

from graph.measurements import parse_measurements


@pytest.mark.parametrize("text, metric, value, err, method", [
    ("DAS behavioral loss achieves IIA of 0.997±0.001 on synthetic 10-class dataset training/test sets",
     "IIA", 0.997, 0.001, "DAS"),
    ("Modified CL loss produces EMD along feature dimensions of 0.007±0.001 on synthetic 10-class dataset",
     "EMD", 0.007, 0.001, "CL"),
    ("Modified CL loss achieves IIA of 0.9988±0.0005 on synthetic 10-class dataset", "IIA", 0.9988, 0.0005, "CL"),
    ("Boundless DAS reaches accuracy of 96 +/- 2 % on price tagging", "accuracy", 0.96, 0.02, "Boundless DAS"),
])
def test_quantity_with_uncertainty_becomes_a_measurement(text, metric, value, err, method):
    (m,) = parse_measurements(text)
    assert (m.metric, m.method) == (metric, method)
    assert m.value == pytest.approx(value) and m.err == pytest.approx(err)


def test_text_without_a_named_metric_gives_nothing():
    assert parse_measurements("we ran 3±1 experiments") == []
    assert parse_measurements("For small CL loss weights epsilon, IIA is maintained while EMD decreases") == []


def test_lower_is_better_for_divergences():
    (m,) = parse_measurements("EMD of 0.03±0.01")
    assert m.higher_is_better is False
