"""Analysts' exports: the synthesis workbook of an exercise (xlsx) and every mart as Parquet.

Each file is written to a temp name in its folder, then renamed over the old one, so a reader
never opens a half-written export.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import xlsxwriter

# Sheet per published table, in this order.
FEUILLES = {
    "synthese_thematiques": "Synthèse thématiques",
    "chiffres_cles": "Chiffres clés",
    "actions": "Actions",
    "evolution_thematiques": "Évolution thématiques",
    "paiements_non_comptes": "Paiements non comptés",
}

# French header of every published column (also used to read the workbook back).
ENTETES = {
    "exercice": "Exercice",
    "exercice_precedent": "Exercice précédent",
    "num_convention": "N° convention",
    "operateur": "Opérateur",
    "siret": "SIRET",
    "intitule": "Intitulé de l’action",
    "code_thematique": "Code thématique",
    "libelle_thematique": "Thématique",
    "code_domaine": "Code domaine",
    "libelle_domaine": "Domaine d’intervention",
    "code_type_action": "Type d’action",
    "nature": "Nature",
    "date_debut": "Date de début",
    "date_fin": "Date de fin",
    "etp": "ETP",
    "nb_referents": "Référents uniques",
    "montant_paye_eur": "Montant payé (€)",
    "montant_paye_eur_precedent": "Montant payé exercice précédent (€)",
    "evolution_montant_eur": "Évolution du montant (€)",
    "evolution_montant_pct": "Évolution du montant (%)",
    "nb_mandats": "Mandats",
    "nb_actions": "Nombre d’actions",
    "nb_actions_precedent": "Nombre d’actions exercice précédent",
    "accompagnements": "Accompagnements",
    "accompagnements_precedent": "Accompagnements exercice précédent",
    "evolution_accompagnements_pct": "Évolution des accompagnements (%)",
    "fins_accompagnement": "Fins d’accompagnement",
    "fins_accompagnement_precedent": "Fins d’accompagnement exercice précédent",
    "insertions_durables": "Insertions durables",
    "insertions_durables_creation_activite": "dont par création d’activité",
    "mises_en_parcours": "Mises en parcours professionnel",
    "sorties_emploi_formation": "Sorties emploi formation",
    "sorties_emploi_formation_precedent": "Sorties emploi formation exercice précédent",
    "sorties_dynamique_parcours": "Sorties dynamique de parcours",
    "sorties_autres_motifs": "Sorties autres motifs",
    "sorties_ouverture_droits": "dont ouverture d’autres droits",
    "en_cours": "Accompagnements en cours",
    "en_cours_avec_mise_en_parcours": "En cours avec mise en parcours",
    "nb_cer": "CER signés",
    "personnes_cer": "Personnes avec CER",
    "personnes_accompagnement_social": "dont avec accompagnement social",
    "accueils_individuels": "Accueils individuels",
    "problemes_mobilite_resolus": "Problèmes de mobilité résolus",
    "lieux_acces_multimedia": "Lieux d’accès multimédia",
    "certifications_delivrees": "Certifications délivrées",
    "taux_sorties_emploi_formation_pct": "Taux de sorties emploi formation (%)",
    "taux_sorties_emploi_formation_precedent_pct":
        "Taux de sorties emploi formation exercice précédent (%)",
    "evolution_taux_sorties_emploi_formation_pts": "Évolution du taux (points)",
    "perimetre": "Périmètre",
    "indicateur": "Indicateur",
    "valeur": "Valeur",
    "motif": "Motif du refus",
    "lignes": "Paiements refusés non comptés",
    "lignes_montant_inconnu": "dont au montant inconnu",
    "montant_eur": "Montant payé non compté (€)",
}


def entete(col: str) -> str:
    return ENTETES.get(col, col)


@contextlib.contextmanager
def _atomic(target: Path) -> Iterator[Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY 1").fetchall()]


def write_parquet(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, Path]:
    """Every published table of ``con`` (marts.duckdb) as ``out_dir/<table>.parquet``."""
    out: dict[str, Path] = {}
    for table in _tables(con):
        target = out_dir / f"{table}.parquet"
        with _atomic(target) as tmp:
            con.execute(f"COPY (SELECT * FROM {table}) TO '{tmp}' "
                        "(FORMAT parquet, COMPRESSION zstd)")
        out[table] = target
    return out


def _format_colonne(col: str, type_: str) -> str:
    t = type_.upper()
    if col.endswith("_pct") or col.endswith("_pts"):
        return "0.00"
    whole = t in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT")
    if "montant" in col and not whole:  # a count of lines 'au montant inconnu' is no amount
        return '#,##0.00 "€"'
    scale = re.fullmatch(r"DECIMAL\(\d+,\s*(\d+)\)", t)
    if scale and int(scale[1]) > 2:
        # shown as declared (an ETP of 0.333333): 2 decimals at least, up to the column's own,
        # or the actions' sheet prints 0,33 beside a total that adds up their true values
        return "#,##0.00" + "#" * (int(scale[1]) - 2)
    if t.startswith("DECIMAL") or t in ("DOUBLE", "FLOAT"):
        return "#,##0.00"
    if whole:
        return "0" if col.startswith("exercice") else "#,##0"
    if t == "DATE":
        return "dd/mm/yyyy"
    return "@"


def _format_chiffre(indicateur: str) -> str:
    """The key figures share one ``valeur`` column: each row gets the format its indicator would
    have as a column of its own (a count of actions printed '220,00' reads as a measure, not a
    count); every indicator is a count but the amounts, the ratios and ETP."""
    measure = indicateur == "etp" or "montant" in indicateur
    return _format_colonne(indicateur, "DECIMAL(18,2)" if measure else "BIGINT")


def write_xlsx(con: duckdb.DuckDBPyConnection, exercice: int, target: Path) -> Path:
    """One sheet per published table, rows of ``exercice`` only, French headers and formats."""
    tables = [t for t in FEUILLES if t in set(_tables(con))]
    with _atomic(target) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False,
                                            "strings_to_formulas": False,
                                            "strings_to_urls": False})
        wb.set_properties({"title": f"Bilan de l’Insertion — synthèse {exercice}",
                           "subject": "Marts publiés (marts.duckdb)", "language": "fr-FR"})
        head_fmt = wb.add_format({"bold": True, "text_wrap": True, "valign": "top",
                                  "bg_color": "#E8EEF5", "border": 1})
        formats: dict[str, object] = {}

        def fmt_of(num: str) -> object:  # one Format per number format, shared by the sheets
            if num not in formats:
                formats[num] = wb.add_format({"num_format": num})
            return formats[num]

        for table in tables:
            cur = con.execute(f"SELECT * FROM {table} WHERE exercice = ? ORDER BY ALL",
                              [exercice])
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()  # before any other query on ``con`` (it resets the cursor)
            types = dict(con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ?", [table]).fetchall())
            ws = wb.add_worksheet(FEUILLES[table][:31])
            col_fmts = []
            for j, col in enumerate(cols):
                ws.write_string(0, j, entete(col), head_fmt)
                num = _format_colonne(col, types.get(col, "VARCHAR"))
                fmt = fmt_of(num)
                col_fmts.append(fmt)
                sample = [len(entete(col)) * 0.6] + [
                    len(str(r[j])) * 1.15 for r in rows[:200] if r[j] is not None]
                ws.set_column(j, j, min(max(10, max(sample) + 2), 60), fmt)
            by_row = table == "chiffres_cles" and {"indicateur", "valeur"} <= set(cols)
            j_val, j_ind = (cols.index("valeur"), cols.index("indicateur")) if by_row else (-1, -1)
            for i, r in enumerate(rows, start=1):
                for j, v in enumerate(r):
                    # the value column's format follows the row's indicator
                    f = fmt_of(_format_chiffre(r[j_ind])) if j == j_val else col_fmts[j]
                    if v is None:
                        continue
                    if isinstance(v, Decimal):
                        ws.write_number(i, j, float(v), f)
                    elif isinstance(v, bool):
                        ws.write_boolean(i, j, v, f)
                    elif isinstance(v, int | float):
                        ws.write_number(i, j, v, f)
                    elif isinstance(v, dt.date):
                        ws.write_datetime(i, j, dt.datetime(v.year, v.month, v.day), f)
                    else:
                        ws.write_string(i, j, str(v), f)
            ws.set_row(0, 45)
            ws.freeze_panes(1, 0)
            ws.autofilter(0, 0, max(len(rows), 1), len(cols) - 1)
        wb.close()
    return target
