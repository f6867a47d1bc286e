"""Warning checks on the load manifest: files refused whole, and sheets not read, named.

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


UNREAD_SQL = """
SELECT source_file, detail AS motif
FROM raw.manifest WHERE status = 'loaded' AND kind = 'operateur' AND detail IS NOT NULL
ORDER BY exercice, source_file
"""


def _first_line(text: str, width: int = 240) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def _manifest_warning(name: str, sql: str, description: str, none: str, some: str,
                      count_key: str):
    """A warning check listing the manifest's files that ``sql`` selects, with their reason:
    passes when there is none (``none`` says so), else names the first ones after ``some``
    (their number in the metadata under ``count_key``)."""

    @dg.asset_check(asset=RAW_KEYS["manifest"], name=name, blocking=False,
                    description=description)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        try:
            with warehouse.reader() as con:
                found = con.execute(sql).fetchall()
        except Exception as exc:  # noqa: BLE001 - a check that could not run is not a pass
            return dg.AssetCheckResult(
                passed=False, severity=dg.AssetCheckSeverity.WARN,
                description=f"contrôle impossible : {type(exc).__name__}: {str(exc)[:300]}",
            )
        # ' | ' between files: a reason may list several things with '; '
        named = " | ".join(f"{sf} ({_first_line(motif)})" for sf, motif in found[:SHOWN])
        more = f" | … et {len(found) - SHOWN} autre(s)" if len(found) > SHOWN else ""
        return dg.AssetCheckResult(
            passed=not found,
            severity=dg.AssetCheckSeverity.WARN,
            description=none if not found else f"{len(found)} {some} : {named}{more}",
            metadata={
                count_key: len(found),
                "fichiers": dg.MetadataValue.json(
                    [{"fichier": sf, "motif": m} for sf, m in found[:100]]
                ),
            },
        )

    return _check


fichiers_refuses = _manifest_warning(
    "fichiers_refuses", REFUSED_SQL,
    "Files refused whole by the last load (unreadable workbook, sheet or column missing, "
    "finance export unreadable), each with its reason; raw.manifest and raw.rejets hold them "
    "all. A warning: the other files are loaded and published.",
    "aucun fichier refusé", "fichier(s) refusé(s) (tous : raw.manifest, raw.rejets)",
    count_key="fichiers_refuses",
)

# A workbook loaded with rows in a sheet that is not read: a participant or CER table in a sheet
# the kit does not name ('Participants (2)', a copy, where an operator may have split the list),
# or a sheet its action has no use for (the Participants of a partnership: a wrong thematic
# code?). Its figures may be short of those rows: said on every run, not only in the manifest's
# detail column.
feuilles_non_lues = _manifest_warning(
    "feuilles_non_lues", UNREAD_SQL,
    "Workbooks loaded with rows in a sheet that is not read: a participant or CER table in a "
    "sheet the kit does not name ('Participants (2)', 'Copie de Participants') or a sheet the "
    "action does not have (a partnership's Participants); raw.manifest.detail "
    "says which and how many rows. A warning: the workbook's other rows are loaded, its figures "
    "may lack those.",
    "aucune feuille non lue", "classeur(s) chargé(s) avec des lignes non lues",
    count_key="classeurs",
)
