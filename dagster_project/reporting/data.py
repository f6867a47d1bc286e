"""Read what the report needs: the published marts (read-only) and load/quality aggregates.

Figures come only from ``marts.duckdb``, the file analysts get, so the report can never show a
number the marts do not. The data-quality section reads aggregates of the internal warehouse's
load manifest, refusals and control totals (read-only): counts and reasons, never a value of a
refused cell (but the well-formed convention number of a refused payment, which is not personal
data) and never a participant identifier.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.paiements import paiements_non_comptes


@dataclass
class Marts:
    """One exercise's published figures."""

    exercice: int
    exercices_charges: list[int]
    chiffres: dict[tuple[str, str], Decimal]
    synthese: list[dict[str, Any]]
    evolution: list[dict[str, Any]]
    periode: tuple[int, int]

    def c(self, perimetre: str, indicateur: str, default: Decimal | None = None) -> Decimal | None:
        return self.chiffres.get((perimetre, indicateur), default)


@dataclass
class Qualite:
    """Aggregates of the load of one exercise and the checks (nothing row-level)."""

    disponible: bool = True
    erreur: str = ""
    fichiers_par_statut: list[dict[str, Any]] = field(default_factory=list)
    fichiers_non_charges: list[dict[str, Any]] = field(default_factory=list)
    rejets_par_motif: list[dict[str, Any]] = field(default_factory=list)
    # money paid that the bilan does not count (dagster_project.paiements): this exercise's
    # shortfall (None: none) and its largest refused amounts by convention and reason
    paiements_verifies: bool = False
    paiements_non_comptes: dict[str, Any] | None = None
    paiements_par_convention: list[dict[str, Any]] = field(default_factory=list)
    controles: list[dict[str, Any]] = field(default_factory=list)
    checks_dagster: list[dict[str, Any]] | None = None  # None when not run under Dagster


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params=()) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()}


@contextlib.contextmanager
def read_only(path: Path):
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def exercices_publies(marts_path: Path) -> list[int]:
    with read_only(marts_path) as con:
        return [r[0] for r in con.execute(
            "SELECT DISTINCT exercice FROM synthese_thematiques ORDER BY 1").fetchall()]


def lire_marts(con: duckdb.DuckDBPyConnection, exercice: int) -> Marts:
    exercices = [r[0] for r in con.execute(
        "SELECT DISTINCT exercice FROM synthese_thematiques ORDER BY 1").fetchall()]
    chiffres = {
        (p, i): v for p, i, v in con.execute(
            "SELECT perimetre, indicateur, valeur FROM chiffres_cles WHERE exercice = ?",
            [exercice]).fetchall()
    }
    synthese = _rows(con, "SELECT * FROM synthese_thematiques WHERE exercice = ?", [exercice])
    evolution = []
    if "evolution_thematiques" in _tables(con):
        evolution = _rows(con, "SELECT * FROM evolution_thematiques WHERE exercice = ?",
                          [exercice])
    debut, fin = con.execute(
        "SELECT min(year(date_debut)), max(year(date_fin)) FROM actions WHERE exercice = ?",
        [exercice]).fetchone()
    periode = (int(debut or exercice), int(fin or exercice + 1))
    if periode[1] <= periode[0]:
        periode = (periode[0], periode[0] + 1)
    return Marts(exercice, exercices, chiffres, synthese, evolution, periode)


def lire_qualite(warehouse_path: Path | None, exercice: int,
                 checks_dagster: list[dict[str, Any]] | None = None) -> Qualite:
    q = Qualite(checks_dagster=checks_dagster)
    if warehouse_path is None or not Path(warehouse_path).exists():
        q.disponible, q.erreur = False, "entrepôt interne introuvable"
        return q
    try:
        with read_only(Path(warehouse_path)) as con:
            q.fichiers_par_statut = _rows(con, """
                SELECT status, kind, count(*) AS fichiers,
                       coalesce(sum(rows_read), 0) AS lignes_lues,
                       coalesce(sum(rows_loaded), 0) AS lignes_chargees,
                       coalesce(sum(rows_rejected), 0) AS lignes_refusees
                FROM raw.manifest WHERE exercice = ?
                GROUP BY ALL ORDER BY status, kind""", [exercice])
            q.fichiers_non_charges = _rows(con, """
                SELECT file_name, kind, status, replaced_by, detail,
                       coalesce(rows_rejected, 0) AS lignes_refusees
                FROM raw.manifest WHERE exercice = ? AND status <> 'loaded'
                ORDER BY status, file_name""", [exercice])
            # Aggregates only: the refused values (hashed identifiers included) are never read.
            q.rejets_par_motif = _rows(con, """
                SELECT file_name, sheet, column_name, reason, count(*) AS lignes,
                       min(row_number) AS premiere_ligne
                FROM raw.rejets WHERE exercice = ?
                GROUP BY ALL ORDER BY lignes DESC, file_name, reason""", [exercice])
            with contextlib.suppress(duckdb.Error):  # a warehouse loaded before amounts were kept
                par_ex, par_conv = paiements_non_comptes(con)
                q.paiements_non_comptes = next(
                    (r for r in par_ex if r["exercice"] == exercice), None)
                q.paiements_par_convention = [r for r in par_conv if r["exercice"] == exercice]
                q.paiements_verifies = True
            with contextlib.suppress(duckdb.Error):
                q.controles = _rows(con, """
                    SELECT source, perimetre, indicateur, valeur_publiee, valeur_calculee,
                           comparaison, ecart, statut
                    FROM marts.fct_controles_publies WHERE exercice = ?
                    ORDER BY source, perimetre, indicateur""", [exercice])
    except duckdb.Error as exc:
        q.disponible, q.erreur = False, f"entrepôt interne illisible ({type(exc).__name__})"
    return q
