"""Great Expectations suites as blocking Dagster asset checks (GX 1.x, no dagster-ge).

The suites live in :mod:`dagster_project.checks.gx_suites`; this module only reads the checked
relation from the warehouse into pandas (GX's SQL datasource returns nothing on DuckDB) and turns
the outcome into an AssetCheckResult. A suite that could not run is a failure, never a pass.
"""


import dagster as dg

# gx_suites imports no GX at module level: GX is imported when a check runs
from dagster_project.checks.gx_suites import SUITE_MODELS, read_frame, run_suite
from dagster_project.resources import WarehouseResource


def _make_check(suite: str, relation: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        name=f"gx_{suite}",
        asset=dg.AssetKey(relation.split(".")),
        blocking=True,
        description=f"Great Expectations suite « {suite} » on {relation} (Data Docs under the "
        "warehouse dir, gx/).",
    )
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        try:
            with warehouse.reader() as con:
                df = read_frame(con, suite, relation)
            result = run_suite(
                suite, df, gx_dir=warehouse.dir_path() / "gx", run_name=context.run.run_id
            )
        except Exception as exc:  # could not run: a failure, never a pass
            return dg.AssetCheckResult(
                passed=False, severity=dg.AssetCheckSeverity.ERROR,
                description=f"suite {suite} could not run: {type(exc).__name__}: {str(exc)[:300]}",
            )
        failed = [o for o in result.outcomes if not o.success]
        return dg.AssetCheckResult(
            passed=bool(result.success),
            severity=dg.AssetCheckSeverity.ERROR,
            # what failed, observed vs expected and where, is in the metadata's "failed" (the
            # CLI and the alert say it from there: alerts.observed), not repeated here
            description=(
                f"{len(result.outcomes) - len(failed)}/{len(result.outcomes)} expectations OK"
                + (f"; {result.error_message}" if result.error_message else "")
            ),
            metadata={
                "rows": len(df),
                "expectations": len(result.outcomes),
                "failed": dg.MetadataValue.json(
                    [
                        {
                            "expectation": o.expectation_type,
                            "rule": o.description,
                            "column": str(o.column),
                            "observed": o.observed,
                            "expected": o.attendu,
                            "unexpected_count": o.unexpected_count,
                            "examples": list(o.examples),
                            "error": o.error_message,
                        }
                        for o in failed
                    ]
                ),
                "data_docs": dg.MetadataValue.path(str(result.data_docs_index or "")),
            },
        )

    return _check


# one check per suite, on the relation it validates (suite name -> relation; dbt asset key
# [schema, model])
GX_CHECKS = [_make_check(s, r) for s, r in SUITE_MODELS.items()]
