"""Money paid that the bilan does not count: the refused lines of the finance exports.

Why it exists: a payment line is refused when its convention has no loaded workbook (the
operator's workbook was refused, or never came) or when the line itself cannot be read. The
refusal is on record (``raw.rejets``, with the line's amount and mandate number when they could be
read) and rows are conserved, but the published payment total is then lower than what was paid,
and only exercise 2017 has published control totals that would catch it. These queries state the
shortfall for the warning check on the raw mandates (whose description ``bilan run`` prints) and
the report's quality section.

What counts as not counted: every refused payment line of an exercise's exports, except
- a line whose mandate number is loaded (from this export or another) with the same amount, or
  whose own amount could not be read: the same payment, counted, whatever the line's own defect
  (a duplicate, a corrected line sent again). A line under a loaded number with *another*
  amount is another payment (the number was reused): not counted;
- another exercise's mandate (``AUTRE_EXERCICE``): not money of this bilan;
and a mandate number refused on several lines counts once per known amount (its refused line
with that amount first by file name, then line), a line of unknown
amount only when no refused line of that number has a known one. The lines of an export
refused whole (unreadable, a column missing) count with an unknown amount, even if some of
their mandates are loaded from another export: nothing of them could be read.
Pure: a DuckDB connection in, plain rows out (no Dagster).
"""

from __future__ import annotations

from dagster_project.ingestion.discovery import KIND_FINANCES, KIND_OPERATEUR
from dagster_project.parsing.mandats import AUTRE_EXERCICE

# The refused payment lines not counted (see the module's docstring), one row per mandate, or per
# line whose number could not be read, or per export refused whole (``lignes``: its lines).
_NON_COMPTES = """
WITH files AS (
    SELECT * FROM raw.manifest WHERE status <> 'removed' AND kind IN ($fin, $op)
), non_comptes AS (
    SELECT f.exercice, r.source_file, r.row_number, r.column_name, r.value, r.reason,
           r.num_mandat, r.montant, r.num_convention,
           CASE WHEN r.row_number IS NULL THEN f.rows_rejected ELSE 1 END AS lignes
    FROM raw.rejets r JOIN files f USING (source_file)
    WHERE f.kind = $fin
      AND NOT starts_with(r.reason, $autre_exercice)
      -- a line whose number is loaded from another line is the same payment on record when
      -- the amounts agree (or its own could not be read); a different amount under a loaded
      -- number is another payment, and it is not in the total
      AND NOT EXISTS (SELECT 1 FROM raw.raw_mandats m
                      WHERE m.exercice = f.exercice AND m.num_mandat = r.num_mandat
                        AND (r.montant IS NULL OR m.montant = r.montant))
    -- each payment once: a number's refused lines count once per known amount (the same line
    -- refused in two exports is one payment); a line of unknown amount only when its number has
    -- no refused line of known amount
    QUALIFY r.num_mandat IS NULL
         OR (row_number() OVER (PARTITION BY f.exercice, r.num_mandat, r.montant
                                ORDER BY r.source_file, r.row_number) = 1
             AND (r.montant IS NOT NULL
                  OR count(r.montant) OVER (PARTITION BY f.exercice, r.num_mandat) = 0))
)
"""

# per exercise with workbooks or exports: the payments not counted, how many of them have a known
# amount, that amount, the exports refused whole, the exports loaded
PAR_EXERCICE_SQL = _NON_COMPTES + """
SELECT e.exercice,
       coalesce(sum(n.lignes), 0)::BIGINT                                  AS lignes,
       count(n.montant)                                                    AS lignes_montant,
       sum(n.montant)                                                      AS montant,
       count(DISTINCT n.source_file) FILTER (WHERE n.row_number IS NULL)   AS exports_refuses,
       -- exports that brought at least one payment (a header alone brings none)
       (SELECT count(*) FROM files x
        WHERE x.exercice = e.exercice AND x.kind = $fin AND x.status = 'loaded'
          AND x.rows_loaded > 0)                                           AS exports_charges
FROM (SELECT DISTINCT exercice FROM files) e
LEFT JOIN non_comptes n USING (exercice)
GROUP BY e.exercice
ORDER BY e.exercice
"""

# the same by exercise, convention (when well-formed) and reason
_GROUPES = _NON_COMPTES + """
, groupes AS (
    SELECT exercice,
           -- the line's convention when well-formed, whatever cell it was refused for (a
           -- refusal recorded before raw.rejets had the column: from the refused cell itself)
           coalesce(num_convention,
                    CASE WHEN column_name = 'N° convention'
                          AND regexp_full_match(value, 'PDI-[0-9]{4}-[0-9]{4}') THEN value END)
             AS convention,
           reason AS motif, sum(lignes)::BIGINT AS lignes,
           -- a reason checked before the amount ('N° mandat manquant', 'Nature inconnue …')
           -- groups lines of known and unknown amounts: `montant` is then a part (cold review)
           coalesce(sum(lignes) FILTER (WHERE montant IS NULL), 0)::BIGINT
             AS lignes_montant_inconnu,
           sum(montant) AS montant
    FROM non_comptes
    GROUP BY ALL
)
"""

# the largest ``$limit`` groups of each exercise, and how many groups there are in all
PAR_CONVENTION_SQL = _GROUPES + """
SELECT *, count(*) OVER (PARTITION BY exercice) AS groupes FROM groupes
QUALIFY row_number() OVER (
    PARTITION BY exercice ORDER BY abs(montant) DESC NULLS LAST, lignes DESC, convention, motif
) <= $limit
ORDER BY exercice, abs(montant) DESC NULLS LAST, lignes DESC, convention, motif
"""


# every group, as published to the analysts (marts.duckdb's ``paiements_non_comptes``)
_PUBLIE_SQL = _GROUPES + """
SELECT CAST(exercice AS INTEGER)        AS exercice,
       CAST(convention AS VARCHAR)      AS num_convention,
       CAST(motif AS VARCHAR)           AS motif,
       CAST(lignes AS BIGINT)           AS lignes,
       CAST(montant AS DECIMAL(14, 2))  AS montant_eur,
       -- last: the columns published before it keep their positions
       CAST(lignes_montant_inconnu AS BIGINT) AS lignes_montant_inconnu
FROM groupes
ORDER BY exercice, num_convention NULLS LAST, motif
"""


# What the published table and its columns mean, as its comments in marts.duckdb (analysts'
# tools show them, as they show dbt's descriptions of the marts; docs/analysts.md says it at
# length). Key None: the table.
PUBLISHED_COMMENTS: dict[str | None, str] = {
    None: "Payments of the finance exports that the marts do not count (refused lines: no "
          "loaded workbook for their convention, or the line cannot be read), by exercice, "
          "convention and reason: montant_paye_eur + montant_eur = what the finance system paid, "
          "when every amount could be read (lignes_montant_inconnu = 0). "
          "Not listed: other exercises' mandates, a line repeating a counted mandate with the "
          "same or an unreadable amount. No row when every payment is counted.",
    "exercice": "Exercise of the finance export.",
    "num_convention": "The lines' convention when well-formed, whatever they were refused for; "
                      "NULL otherwise (malformed or missing, shifted columns, export refused "
                      "whole).",
    "motif": "Why they are not counted (the refusal's reason, as bilan run and the report give "
             "it).",
    "lignes": "Refused payments not counted, each payment once (a mandate number refused on "
              "several lines counts once per amount); an export refused whole: all its lines.",
    "montant_eur": "Amount of those whose amount could be read, in euros; NULL when none could.",
    "lignes_montant_inconnu": "Of lignes, those whose amount could not be read (montant_eur is "
                              "then a part of what they paid).",
}


def published_query() -> str:
    """The payments not counted, by exercise, convention and reason, as one query whose
    parameters are written in (constants of this code): what the publication copies into
    marts.duckdb as ``paiements_non_comptes``, the same rule as the check's and the report's."""
    sql = _PUBLIE_SQL
    for name, value in _params(sql).items():
        sql = sql.replace(f"${name}", "'" + str(value).replace("'", "''") + "'")
    return sql


def _params(sql: str, **extra) -> dict:
    given = {"fin": KIND_FINANCES, "op": KIND_OPERATEUR, "autre_exercice": AUTRE_EXERCICE,
             **extra}
    return {k: v for k, v in given.items() if f"${k}" in sql}


def _dicts(cur) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def paiements_non_comptes(con, limit: int = 20) -> tuple[list[dict], list[dict]]:
    """(per exercise with a shortfall, the ``limit`` largest refused amounts of each exercise by
    convention and reason, with ``groupes``: how many such groups in all).

    An exercise is listed when a payment is not counted, when an export was refused whole, or when
    no export brought any payment (its payment total would be 0).
    """
    per_ex = [
        row for row in _dicts(con.execute(PAR_EXERCICE_SQL, _params(PAR_EXERCICE_SQL)))
        if row["lignes"] or row["exports_refuses"] or not row["exports_charges"]
    ]
    if not per_ex:
        return [], []
    sql = PAR_CONVENTION_SQL
    return per_ex, _dicts(con.execute(sql, _params(sql, limit=limit)))


def shortfall(row: dict) -> str:
    """One exercise's shortfall (a row of :func:`paiements_non_comptes`) in French."""
    from dagster_project.reporting import fr  # not at import: reporting.data imports this module

    parts = []
    if row["lignes"]:
        text = f"{fr.entier(row['lignes'])} paiement(s) refusé(s) non compté(s)"
        unknown = row["lignes"] - row["lignes_montant"]
        if row["lignes_montant"]:
            text += f" : {fr.euros(row['montant'])} payés"
            if unknown:
                text += f", plus {fr.entier(unknown)} au montant inconnu"
        else:
            text += ", au montant inconnu"
        parts.append(text)
    if row["exports_refuses"]:
        parts.append(f"{row['exports_refuses']} export(s) des paiements refusé(s) en entier")
    if not row["exports_charges"]:
        parts.append("aucun paiement chargé : total payé nul")
    return " ; ".join(parts)


def describe(row: dict) -> str:
    """The same, naming the exercise: ``exercice 2017 : 2 paiement(s) …``."""
    return f"exercice {row['exercice']} : {shortfall(row)}"
