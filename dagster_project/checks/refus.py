"""Warning check on the load manifest: files refused whole, named.

Why it exists: a refused file is on record (``raw.manifest``, ``raw.rejets``) and listed in the
load summary, but a run that refused one still succeeded with no warning when the file changed no
payment (an unreadable copy, a workbook whose number is in no file name): the on-call engineer saw
a clean run, and the next unchanged runs said nothing at all (cold test). As a warning check it
shows in Dagster, in ``bilan run``'s "Avertissements", in the report, and is repeated by the runs
that skip while nothing changes. Not blocking: the other files' figures are right, and the
control totals (2017) or the payments check say when the refusal changes a published figure.
"""

import dagster as dg

from dagster_project.assets.ingestion import RAW_KEYS
from dagster_project.resources import WarehouseResource

SHOWN = 5  # files named in the description; the metadata lists up to 100

REFUSED_SQL = """
SELECT source_file, coalesce(detail, 'refusé') AS motif
FROM raw.manifest WHERE status = 'rejected' ORDER BY exercice, source_file
"""


@dg.asset_check(
    asset=RAW_KEYS["manifest"],
    blocking=False,
    description="Files refused whole by the last load (unreadable workbook, sheet or column "
    "missing, finance export unreadable), each with its reason; raw.manifest and raw.rejets "
    "hold them all. A warning: the other files are loaded and published.",
)
def fichiers_refuses(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    try:
        with warehouse.reader() as con:
            refused = con.execute(REFUSED_SQL).fetchall()
    except Exception as exc:  # noqa: BLE001 - a check that could not run is not a pass
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN,
            description=f"contrôle impossible : {type(exc).__name__}: {str(exc)[:300]}",
        )
    named = "; ".join(f"{sf} ({motif.splitlines()[0][:160]})" for sf, motif in refused[:SHOWN])
    more = f" ; … et {len(refused) - SHOWN} autre(s)" if len(refused) > SHOWN else ""
    return dg.AssetCheckResult(
        passed=not refused,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "aucun fichier refusé" if not refused
            else f"{len(refused)} fichier(s) refusé(s) (tous : raw.manifest, raw.rejets) : "
            f"{named}{more}"
        ),
        metadata={
            "fichiers_refuses": len(refused),
            "fichiers": dg.MetadataValue.json(
                [{"fichier": sf, "motif": m} for sf, m in refused[:100]]
            ),
        },
    )
