"""The z-scored Sinkhorn divergence / √d and its native baseline."""
from __future__ import annotations

import numpy as np
import pytest

from engine.llm_divergence import MEASURES, NativeReference, exact_emd, llm_divergence, sinkhorn_divergence, zscore


def test_zscore_per_dimension():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(200, 4))
    z = zscore(x)
    assert np.allclose(z.mean(0), 0) and np.allclose(z.std(0), 1)


def test_sinkhorn_divergence_near_exact_emd_at_small_eps():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 3)) + 1.0
    assert sinkhorn_divergence(x, y) == pytest.approx(exact_emd(x, y), rel=0.02)
    assert abs(sinkhorn_divergence(x, x)) < 1e-6
    with pytest.raises(ValueError):
        NativeReference(x, estimator="nope")


@pytest.mark.parametrize("estimator", ["emd", "sinkhorn"])
def test_both_estimators_name_themselves_and_agree(estimator):
    rng = np.random.default_rng(3)
    native, other = rng.normal(size=(60, 3)), rng.normal(size=(30, 3)) * np.array([1.0, 1.0, 0.1])
    est = llm_divergence(other, native, n=30, resamples=2, estimator=estimator)
    assert est.measure == MEASURES[estimator] and est.estimator == estimator
    assert est.value == pytest.approx(est.emd, rel=0.05)  # S_ε at ε = 0.0025 is near its ε → 0 limit
    assert (est.epsilon is None) == (estimator == "emd")


def test_intervened_set_off_the_native_one_scores_above_baseline():
    rng = np.random.default_rng(2)
    d = 8
    cov = np.diag(np.linspace(0.2, 3.0, d))
    native = rng.multivariate_normal(np.zeros(d), cov, size=300)
    same = rng.multivariate_normal(np.zeros(d), cov, size=150)
    # z-scoring each set removes shifts and scales, so make the intervened set differ in shape (correlation)
    skewed = same.copy()
    skewed[:, 1:] = skewed[:, :1] + 0.1 * skewed[:, 1:]  # every dimension nearly a copy of the first
    ref = NativeReference(native, n=100, resamples=3, seed=0)
    near, far = ref.measure_states(same, seed=0), ref.measure_states(skewed, seed=0)
    assert far.value > near.value + 3 * far.sem
    assert near.value == pytest.approx(near.baseline, rel=0.35)
    assert near.n == 100 and near.d == d and len(near.values) == 3
    assert (near.emd, near.baseline_emd) == (near.value, near.baseline)  # estimator "emd": value is the exact EMD
    one = llm_divergence(skewed, native, n=100, resamples=2, estimator="emd")
    assert one.value > one.baseline
