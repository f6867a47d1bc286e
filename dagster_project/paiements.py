"""Money paid that the bilan does not count: the refused lines of the finance exports.

Why it exists: a payment line is refused when its convention has no loaded workbook (the
operator's workbook was refused, or never came) or when the line itself cannot be read. The
refusal is on record (``raw.rejets``, with the line's amount when it could be read) and rows are
conserved, but the published payment total is then lower than what was paid, and only exercise
2017 has published control totals that would catch it. These queries state the shortfall for the
warning check on the raw mandates, the ``bilan run`` summary and the report's quality section. A
mandate refused as a duplicate is not a shortfall: its money is counted once.
Pure: a DuckDB connection in, plain rows out (no Dagster).
"""

from __future__ import annotations

from dagster_project.ingestion.discovery import KIND_FINANCES, KIND_OPERATEUR
from dagster_project.parsing.mandats import DOUBLON

# per exercise with workbooks or exports: the refused payment lines (duplicates apart), how
# many of them have a known amount, that amount, the exports refused whole (not merely all
# their lines), the exports loaded
PAR_EXERCICE_SQL = """
WITH files AS (
    SELECT * FROM raw.manifest WHERE status <> 'removed' AND kind IN ($fin, $op)
), exports AS (
    SELECT exercice,
           sum(rows_rejected)                        AS refusees,
           count(*) FILTER (WHERE status = 'loaded') AS exports_charges
    FROM files WHERE kind = $fin GROUP BY exercice
), lignes AS (
    SELECT f.exercice,
           count(*) FILTER (WHERE starts_with(r.reason, $doublon))           AS doublons,
           count(r.montant) FILTER (WHERE NOT starts_with(r.reason, $doublon)) AS avec_montant,
           sum(r.montant) FILTER (WHERE NOT starts_with(r.reason, $doublon))   AS montant,
           -- refused whole (unreadable, empty, a column missing): its lines' amounts unknown
           count(DISTINCT r.source_file) FILTER (WHERE r.row_number IS NULL) AS refuses_entiers
    FROM raw.rejets r JOIN files f USING (source_file)
    WHERE f.kind = $fin GROUP BY f.exercice
)
SELECT e.exercice,
       coalesce(x.refusees, 0) - coalesce(l.doublons, 0) AS lignes,
       coalesce(l.avec_montant, 0)                        AS lignes_montant,
       l.montant,
       coalesce(l.refuses_entiers, 0)                     AS exports_refuses,
       coalesce(x.exports_charges, 0)                     AS exports_charges
FROM (SELECT DISTINCT exercice FROM files) e
LEFT JOIN exports x USING (exercice)
LEFT JOIN lignes l USING (exercice)
ORDER BY e.exercice
"""

# the refused lines' amounts by exercise, convention (when well-formed) and reason: the
# largest ``$limit`` of each exercise
PAR_CONVENTION_SQL = """
WITH refused AS (
    SELECT f.exercice,
           -- a well-formed convention number only (a refused cell may hold anything)
           CASE WHEN r.column_name = 'N° convention'
                 AND regexp_full_match(r.value, 'PDI-[0-9]{4}-[0-9]{4}') THEN r.value END
             AS convention,
           r.reason AS motif, count(*) AS lignes, sum(r.montant) AS montant
    FROM raw.rejets r JOIN raw.manifest f USING (source_file)
    WHERE f.kind = $fin AND f.status <> 'removed' AND NOT starts_with(r.reason, $doublon)
    GROUP BY ALL
)
SELECT * FROM refused
QUALIFY row_number() OVER (
    PARTITION BY exercice ORDER BY abs(montant) DESC NULLS LAST, lignes DESC, convention, motif
) <= $limit
ORDER BY exercice, abs(montant) DESC NULLS LAST, lignes DESC, convention, motif
"""


def _params(sql: str, **extra) -> dict:
    given = {"fin": KIND_FINANCES, "op": KIND_OPERATEUR, "doublon": DOUBLON, **extra}
    return {k: v for k, v in given.items() if f"${k}" in sql}


def paiements_non_comptes(con, limit: int = 20) -> tuple[list[dict], list[dict]]:
    """(per exercise with a shortfall, the ``limit`` largest refused amounts of each exercise by
    convention and reason).

    An exercise is listed when a payment line was refused (duplicates apart), when an export was
    refused whole, or when no export was loaded at all (its payment total would be 0).
    """
    cur = con.execute(PAR_EXERCICE_SQL, _params(PAR_EXERCICE_SQL))
    cols = [d[0] for d in cur.description]
    per_ex = [
        row for row in (dict(zip(cols, r, strict=True)) for r in cur.fetchall())
        if row["lignes"] or row["exports_refuses"] or not row["exports_charges"]
    ]
    if not per_ex:
        return [], []
    cur = con.execute(PAR_CONVENTION_SQL, _params(PAR_CONVENTION_SQL, limit=limit))
    cols = [d[0] for d in cur.description]
    return per_ex, [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def shortfall(row: dict) -> str:
    """One exercise's shortfall (a row of :func:`paiements_non_comptes`) in French."""
    from dagster_project.reporting import fr  # not at import: reporting.data imports this module

    parts = []
    if row["lignes"]:
        unknown = row["lignes"] - row["lignes_montant"]
        parts.append(
            f"{row['lignes']} ligne(s) de paiement refusée(s), "
            f"{fr.euros(row['montant'] or 0)} payés non comptés"
            + (f" (+ {unknown} ligne(s) au montant illisible)" if unknown else "")
        )
    if row["exports_refuses"]:
        parts.append(f"{row['exports_refuses']} export(s) des paiements refusé(s) en entier")
    if not row["exports_charges"]:
        parts.append("aucun export des paiements chargé : total payé nul")
    return " ; ".join(parts)


def describe(row: dict) -> str:
    """The same, naming the exercise: ``exercice 2017 : 2 ligne(s) …``."""
    return f"exercice {row['exercice']} : {shortfall(row)}"
