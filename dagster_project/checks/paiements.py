"""Warning check on the raw mandates: money paid that the bilan does not count.

The shortfall itself is computed in :mod:`dagster_project.paiements`; this module turns it into
an AssetCheckResult. A warning, not blocking: the synthesis by thematic cannot place a payment
whose action is unknown, and the rest of the bilan is right, so the publication goes ahead; the
data engineer sees the amount on the raw mandates in Dagster and in ``bilan run``'s output.
"""

from decimal import Decimal

import dagster as dg

from dagster_project.assets.ingestion import RAW_KEYS
from dagster_project.paiements import describe, paiements_non_comptes
from dagster_project.resources import WarehouseResource


def _json(rows: list[dict]) -> list[dict]:
    return [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in rows]


@dg.asset_check(
    asset=RAW_KEYS["raw_mandats"],
    blocking=False,
    description="Payments paid but not counted in the bilan (refused lines of the finance "
    "export: convention without a loaded workbook, unreadable line, a mandate number loaded "
    "with another amount; the same mandate loaded from another line and another exercise's "
    "mandates apart), with their amount per exercise and, when the refusal is about the "
    "convention, per convention. A warning: it does not stop the publication.",
)
def paiements_comptes(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    try:
        with warehouse.reader() as con:
            per_ex, par_convention = paiements_non_comptes(con)
    except Exception as exc:  # e.g. a warehouse not yet re-loaded by this release: not a pass
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN,
            description=f"contrôle impossible : {type(exc).__name__}: {str(exc)[:300]}",
        )
    return dg.AssetCheckResult(
        passed=not per_ex,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "tous les paiements lus sont comptés"
            if not per_ex
            else " | ".join(describe(r) for r in per_ex)
        ),
        metadata={
            "montant_non_compte": float(sum((r["montant"] or 0) for r in per_ex)),
            "paiements_non_comptes": int(sum(r["lignes"] for r in per_ex)),
            "par_exercice": dg.MetadataValue.json(_json(per_ex)),
            "par_convention": dg.MetadataValue.json(_json(par_convention)),
        },
    )
