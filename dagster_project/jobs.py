"""The nightly job: ingest every exercise → dbt build (tests) → GX checks → publish.

The job is partitioned by exercise through its ingestion asset (see partitions.py): launched with
partition-range tags it covers every exercise (schedule, sensor, ``bilan run``); launched for one
partition key it re-ingests that exercise only and rebuilds everything downstream.

In-process executor: the steps run in the run's own process (no ~6 s process spawn per step);
dbt is isolated in its own subprocess anyway, and ingestion parallelises parsing itself.
"""

import dagster as dg

NIGHTLY_JOB = dg.define_asset_job(
    name="bilan_nightly",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Ingestion of every exercise, dbt build and tests, Great Expectations suites, "
    "publication of marts.duckdb when every blocking check passes.",
)


def cli_nightly_job() -> dg.JobDefinition:
    """``bilan_nightly`` resolved, with ``bilan run``'s console logger (a deliberate stop says why
    without Dagster's stack trace: loggers.py). A module-level function, so that
    ``dg.reconstructable`` can name it: ``dg.execute_job`` re-executes a run
    (``bilan run --from-failure``) only from a reconstructable job."""
    from dagster_project.definitions import defs
    from dagster_project.loggers import console_logger

    return defs.resolve_job_def("bilan_nightly").with_logger_defs({"console": console_logger})
