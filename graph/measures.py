"""The measure registry: every number a finding states names one of these definitions by its id.

A divergence is only meaningful with its full definition — which estimator, in which library and version,
with which parameters, between which two point sets, how many points, in which coordinates, normalised how —
and two numbers with the same name but different definitions are different quantities. So a measurement
stores a measure **id** (``Measurement.measure``) and the parameters it actually ran with
(``Measurement.measure_params``: library version, points used, ...), and a replication verdict joins only
measurements with the same metric, the same measure id and the same protocol conditions
(:mod:`graph.runs`).

Each divergence measure also says how its **floor** is computed: the same estimator on a *perfect*
intervention (intervened vectors replaced by genuine native vectors of each intervention's counterfactual
class) at the same sample size, on the same run's data. A value within the floor band is indistinguishable
from a perfect map under that estimator (:func:`graph.runs.at_floor`).

This module is data only (no torch, no numpy): ``findings measures`` lists it without importing the
engine, and the engine (:mod:`engine.metrics`, :mod:`engine.paper_estimator`, :mod:`engine.llm_divergence`)
computes each id.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Measure:
    """One registered definition of how a number is measured."""

    id: str
    metric: str  # the quantity in the graph's words: "EMD" (divergence) or "IIA"
    title: str
    estimator: str
    library: str
    parameters: dict[str, Any]
    point_sets: str
    sample_size: str
    coordinates: str
    normalisation: str
    higher_is_better: bool
    floor: str = ""  # how the estimator's floor is computed ("" for accuracies)
    source: str = ""  # where the definition comes from
    notes: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["parameters"] = dict(self.parameters)
        return out


_CONVERGED_SOLVER = ("log-domain semi-dual L-BFGS, then POT's sinkhorn_log until the L2 marginal error is below "
                     "1e-5·‖b‖₂; raises instead of returning an unconverged value")
_MATCHED = ("the intervened vectors vs one native vector per intervention drawn from the counterfactual class "
            "in the evaluated task (class-matched, so both sets have the same class counts)")
_TASK = "the intervened vectors vs the evaluated task's native vectors (an independent subsample)"
_SYNTHETIC_COORDS = "the causal coordinates (0, 1) of the 18-d input, in the original basis"
_MATCHED_FLOOR = ("the same estimator between a second class-matched native draw and the first (a perfect "
                  "intervention), same points, same run data")
_TASK_FLOOR = ("the same estimator between native vectors of each intervention's counterfactual class (a "
               "perfect intervention) and the task's natives, same points, same run data")

GRANT2025_SINKHORN = "grant2025_geomloss_sinkhorn"
# the engine's two native sets: (reference, words, point sets, what the sample size counts, floor)
_ENGINE_VARIANTS = (
    ("matched", "class-matched natives", _MATCHED, "interventions (fixed-seed subsample, pairs kept together)",
     _MATCHED_FLOOR),
    ("task", "the task's natives", _TASK, "points per set (fixed-seed subsamples)", _TASK_FLOOR),
)

_REGISTRY: tuple[Measure, ...] = (
    Measure(
        id=GRANT2025_SINKHORN, metric="EMD",
        title="The paper's divergence (Grant et al. 2025): geomloss Sinkhorn, blur 0.05, defaults",
        estimator="debiased Sinkhorn divergence with ε-scaling, not run to convergence",
        library="geomloss (SamplesLoss; 0.3.x's legacy SamplesLoss is 0.2.6's code, formatting aside)",
        parameters={"loss": "sinkhorn", "p": 2, "blur": 0.05, "cost": "½‖a−b‖²", "debias": True, "scaling": 0.5,
                    "reach": None, "backend": "tensorized (auto for N·M ≤ 5000²)", "dtype": "float32",
                    "epsilon_schedule": "diameter² → blur² by factors of scaling² = 0.25; one symmetric "
                                        "update per ε, then one extrapolation"},
        point_sets=("the intervened vectors vs one native vector per intervention, drawn from the evaluated "
                    "task with the intervention's target x value and a random y value (not class-matched); "
                    "in the paper's protocol that is the intervention's source vector"),
        sample_size="all interventions, no subsampling (800 vs 800 on og_holdouts, 400 vs 400 on inner_square)",
        coordinates=_SYNTHETIC_COORDS + ", raw (the other 16 zeroed)",
        normalisation="none",
        higher_is_better=False,
        floor=("the same estimator with the intervened vectors replaced by native vectors of each "
               "intervention's counterfactual class (drawn from the evaluated task), against the same native "
               "draws, same n"),
        source=("grantsrb/rep_divergence divergence/clloss_synthetic_task.ipynb: compute_emd = "
                "SamplesLoss('sinkhorn', p=2, blur=0.05); 'row_emd' and 'cross_row_emd' = compute_emd("
                "intrv_vecs·mask, src_vecs·mask) with mask = the first two dims"),
        notes=("The published synthetic EMD numbers (cross_row_emd in divergence/csvs/cl_synthetic_ood.csv) are in "
               "this measure. geomloss's ε-scaling stops before convergence at blur 0.05 on clustered data, so the "
               "value differs from a converged Sinkhorn divergence; that unconverged value is the measure."),
    ),
    *(Measure(
        id=f"sinkhorn_converged_{ref}", metric="EMD",
        title=f"Converged debiased Sinkhorn divergence against {against} (engine)",
        estimator="debiased Sinkhorn divergence S_ε = OT_ε(X,Y) − ½OT_ε(X,X) − ½OT_ε(Y,Y), entropic term included",
        library="POT + SciPy (engine.metrics.entropic_ot)",
        parameters={"epsilon": 0.0025, "cost": "½‖a−b‖²", "debias": True, "dtype": "float64",
                    "solver": _CONVERGED_SOLVER},
        point_sets=points, sample_size=f"at most 500 {size}", coordinates=_SYNTHETIC_COORDS, normalisation="none",
        higher_is_better=False, floor=floor, source="engine.metrics (this project)",
        notes="Better behaved than the paper's (converged; class counts matched), but a different number.",
    ) for ref, against, points, size, floor in _ENGINE_VARIANTS),
    *(Measure(
        id=f"exact_emd_{ref}", metric="EMD", title=f"Exact EMD against {against} (engine)",
        estimator="exact optimal-transport cost (the ε → 0 limit)", library="POT (ot.emd2)",
        parameters={"cost": "½‖a−b‖²", "numItermax": 1_000_000_000, "warnings": "raised as errors",
                    "dtype": "float64"},
        point_sets=points, sample_size=f"at most 4000 {size}", coordinates=_SYNTHETIC_COORDS, normalisation="none",
        higher_is_better=False, floor=floor, source="engine.metrics (this project)",
    ) for ref, against, points, size, floor in _ENGINE_VARIANTS),
    *(Measure(
        id=f"{name}_zscored_per_sqrt_d", metric="EMD", title=f"{words} of z-scored LLM states, ÷ √d (engine)",
        estimator=estimator, library=library, parameters={**parameters, "resamples": 5},
        point_sets="intervened site states of held-out pairs vs native site states (disjoint draws)",
        sample_size="n = 256 per set per resample (5 resamples)",
        coordinates="the full hidden vector at the intervention site",
        normalisation="each set z-scored per dimension with its own mean and std; the value divided by √d",
        higher_is_better=False, floor="native vs native: two disjoint native draws of the same size (the 'baseline')",
        source="engine.llm_divergence (this project)",
    ) for name, words, estimator, library, parameters in (
        ("sinkhorn_divergence", "Converged debiased Sinkhorn divergence",
         "debiased Sinkhorn divergence, entropic term included", "POT + SciPy (engine.metrics)",
         {"epsilon": 0.0025, "cost": "½‖a−b‖²", "debias": True, "dtype": "float64", "solver": _CONVERGED_SOLVER}),
        ("exact_emd", "Exact EMD", "exact optimal-transport cost", "POT (ot.emd2)",
         {"cost": "½‖a−b‖²", "numItermax": 1_000_000_000, "dtype": "float64"}),
    )),
    Measure(
        id="grant2025_geomloss_zscored_per_sqrt_d", metric="EMD",
        title="The paper's Boundless DAS divergence: geomloss Sinkhorn of z-scored halves, ÷ √D",
        estimator="debiased Sinkhorn divergence with ε-scaling, not run to convergence",
        library="geomloss (SamplesLoss; see grant2025_geomloss_sinkhorn)",
        parameters={"loss": "sinkhorn", "p": 2, "blur": 0.05, "cost": "½‖a−b‖²", "debias": True, "scaling": 0.5,
                    "dtype": "float32", "resamples": 5, "zscore": "(x − mean) / (std(ddof=1) + 1e-5)"},
        point_sets=("the test pairs split in random halves: one half's CL-prompt native states (the source's "
                    "lower bound, the base's upper bound and amount) vs the other half's intervened states"),
        sample_size="half the test pairs per set (500 vs 500 on 1,000), 5 resamples",
        coordinates="the full hidden vector at the intervention site",
        normalisation="each set permuted and z-scored on its own; the value divided by √D",
        higher_is_better=False,
        floor="native vs native: the first half's CL-prompt states vs the second half's (the paper's 'base_emd')",
        source=("grantsrb/rep_divergence divergence/collect_cl_boundless_das.py collect_divergences → "
                "divergence_utils.divergences/sample_emd (sample_type='permute', normalize=True)"),
    ),
    Measure(
        id="iia_argmax", metric="IIA",
        title="Interchange-intervention accuracy: the model's argmax is the counterfactual class (or answer token)",
        estimator=("share of interventions whose argmax prediction — over the probe's classes, or over the whole "
                   "vocabulary at the answer position of a language model — is the counterfactual class/token"),
        library="torch", parameters={}, point_sets="every intervention of the evaluated set",
        sample_size="all interventions of the evaluated set",
        coordinates="the model's output classes, or its full vocabulary", normalisation="none",
        higher_is_better=True,
        source=("grantsrb/rep_divergence: get_actn_loss (synthetic), compute_metrics (Boundless: argmax at the last "
                "position == label; the paper rounds to 2 decimals, this does not); engine.metrics.iia"),
    ),
    Measure(
        id="iia_yes_no_logit", metric="IIA",
        title="Boundless DAS IIA: the yes-vs-no logit comparison gives the counterfactual label (engine)",
        estimator="share of held-out pairs where logit(yes) > logit(no) matches the counterfactual label",
        library="torch", parameters={"mask": "at the final temperature"},
        point_sets="held-out counterfactual pairs", sample_size="all held-out pairs",
        coordinates="the two answer tokens' logits at the answer position", normalisation="none",
        higher_is_better=True, source="engine.boundless (this project)",
    ),
)

MEASURES: dict[str, Measure] = {m.id: m for m in _REGISTRY}


def get(measure_id: str) -> Measure:
    """The registered measure, or ``ValueError`` naming the known ids."""
    try:
        return MEASURES[measure_id]
    except KeyError:
        raise ValueError(f"unknown measure {measure_id!r}; registered: {', '.join(MEASURES)}") from None


def all_measures() -> list[Measure]:
    return list(_REGISTRY)
