"""Blocking check: nothing lost between the raw files and the raw tables.

For every file of the manifest, rows read = rows loaded + rows rejected, and the rows actually in
the raw tables for that file equal its rows_loaded (no orphan rows from a removed or replaced
file, no silently dropped row). Fails the run before dbt builds anything from a leaky load.
"""

import dagster as dg

from dagster_project.assets.ingestion import RAW_KEYS
from dagster_project.resources import WarehouseResource

CONSERVATION_SQL = """
WITH in_tables AS (
    SELECT source_file, count(*) AS n FROM (
        SELECT source_file FROM raw.raw_actions
        UNION ALL SELECT source_file FROM raw.raw_participants
        UNION ALL SELECT source_file FROM raw.raw_cer
        UNION ALL SELECT source_file FROM raw.raw_mandats
    ) GROUP BY source_file
)
SELECT coalesce(m.source_file, t.source_file) AS source_file, m.status,
       m.rows_read, m.rows_loaded, m.rows_rejected, coalesce(t.n, 0) AS rows_in_tables
FROM raw.manifest m FULL OUTER JOIN in_tables t USING (source_file)
WHERE m.source_file IS NULL
   OR m.rows_read IS NULL OR m.rows_loaded IS NULL OR m.rows_rejected IS NULL
   OR m.rows_read <> m.rows_loaded + m.rows_rejected
   OR m.rows_loaded <> coalesce(t.n, 0)
ORDER BY 1
"""


def conservation_failures(con) -> list[dict]:
    cur = con.execute(CONSERVATION_SQL)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


@dg.asset_check(
    asset=RAW_KEYS["manifest"],
    blocking=True,
    description="rows read = rows loaded + rows rejected for every file, and the raw tables hold "
    "exactly the rows the manifest says were loaded.",
)
def manifest_conservation(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.reader() as con:
        failures = conservation_failures(con)
        totals = con.execute(
            "SELECT count(*), sum(rows_read), sum(rows_loaded), sum(rows_rejected) "
            "FROM raw.manifest"
        ).fetchone()
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "files": totals[0],
            "rows_read": int(totals[1] or 0),
            "rows_loaded": int(totals[2] or 0),
            "rows_rejected": int(totals[3] or 0),
            "files_not_conserved": len(failures),
            "first_failures": dg.MetadataValue.json(
                [
                    {k: (str(v) if v is not None else None) for k, v in f.items()}
                    for f in failures[:10]
                ]
            ),
        },
        description=(
            "conservation OK"
            if not failures
            else f"{len(failures)} fichier(s) ne conservent pas leurs lignes, "
            f"ex. {failures[0]['source_file']}"
        ),
    )
