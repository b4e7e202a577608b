"""Record results from your own code (pyvene, nnsight, a training loop of yours) as findings.

::

    import findings

    with findings.run(config={"lr": 1e-3, "layer": 1}, protocol="grant2025", seeds=[0, 1, 2]) as run:
        ...  # your experiment
        run.record(metric="IIA", value=0.998, err=0.0006, err_kind="sem", n=10, measure="iia_argmax",
                   split="cross", dataset="synthetic10", method="CL",
                   conditions={"task": "synthetic10", "partition": "og_holdouts", "loss": "cl", "map": "linear"})
        run.record_seeds(metric="IIA", values=[0.997, 0.999, 0.998], measure="iia_argmax", split="train",
                         dataset="synthetic10", method="CL")

The run is recorded with the engine's lifecycle, provenance and like-for-like replication verdicts
(:mod:`findings.api`); ``findings import-results FILE`` records a per-seed results file the same way
(:mod:`findings.results_file`). Importing this package loads neither torch nor the database layer: those
are imported when a run starts.
"""
from findings.api import Run, run

__all__ = ["Run", "run"]
