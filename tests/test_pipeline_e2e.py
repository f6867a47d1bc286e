"""End to end: the real job on the committed 2017 drop publishes every figure of the report.

Figures are compared with the project's own copy of the published report (dbt/seeds), which the
pipeline never reads to compute them: the marts are built from the raw files only.
"""

from __future__ import annotations

import csv
from decimal import Decimal

import duckdb
import pytest

from tests.conftest import SEEDS

pytestmark = pytest.mark.slow


def published_synthese():
    with (SEEDS / "bilan_publie_synthese.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def published_chiffres():
    with (SEEDS / "bilan_publie_chiffres_cles.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


SYNTHESE_COLUMNS = [
    "nb_actions", "montant_paye_eur", "accompagnements", "fins_accompagnement",
    "insertions_durables", "mises_en_parcours", "sorties_emploi_formation",
]


def test_run_prints_synthesis_and_path(run_2017):
    assert "Synthèse publiée" in run_2017.stdout
    assert str(run_2017.marts) in run_2017.stdout
    assert "PRO-EMP-AME" in run_2017.stdout


def test_synthese_equals_every_published_cell(run_2017):
    con = duckdb.connect(str(run_2017.marts), read_only=True)
    got = {
        r[0]: dict(zip(SYNTHESE_COLUMNS, r[1:], strict=True))
        for r in con.execute(
            f"SELECT code_thematique, {', '.join(SYNTHESE_COLUMNS)} FROM synthese_thematiques "
            "WHERE exercice = 2017"
        ).fetchall()
    }
    assert len(got) == 19
    checked = 0
    for row in published_synthese():
        for col in SYNTHESE_COLUMNS:
            if row[col] == "":
                continue
            assert Decimal(str(got[row["code_thematique"]][col])) == Decimal(row[col]), (
                row["code_thematique"], col
            )
            checked += 1
    assert checked > 100
    total = con.execute(
        "SELECT sum(montant_paye_eur), sum(fins_accompagnement), sum(accompagnements), "
        "sum(nb_actions) FROM synthese_thematiques WHERE exercice = 2017"
    ).fetchone()
    assert total == (Decimal("15866991.00"), 12782, 22591, 220)


def test_chiffres_cles_equal_every_published_figure(run_2017):
    con = duckdb.connect(str(run_2017.marts), read_only=True)
    got = {
        (p, i): v
        for p, i, v in con.execute(
            "SELECT perimetre, indicateur, valeur FROM chiffres_cles WHERE exercice = 2017"
        ).fetchall()
    }
    published = published_chiffres()
    assert len(published) == 43  # the report's key figures: an emptied seed proves nothing
    for row in published:
        key = (row["perimetre"], row["indicateur"])
        assert key in got, key
        value, expected = Decimal(str(got[key])), Decimal(row["valeur"])
        if row["comparaison"] == "minimum":
            assert value > expected, key
        else:
            assert value == expected, key


def test_actions_mart_one_row_per_convention(run_2017):
    con = duckdb.connect(str(run_2017.marts), read_only=True)
    n, distinct = con.execute(
        "SELECT count(*), count(DISTINCT num_convention) FROM actions WHERE exercice = 2017"
    ).fetchone()
    assert n == distinct == 220


def test_no_participant_identifier_in_published_marts(run_2017):
    wh = duckdb.connect(str(run_2017.warehouse), read_only=True)
    ids = {
        r[0]
        for r in wh.execute(
            "SELECT identifiant FROM raw.raw_participants UNION SELECT identifiant FROM raw.raw_cer"
        ).fetchall()
    }
    wh.close()
    assert len(ids) > 10000
    con = duckdb.connect(str(run_2017.marts), read_only=True)
    cols = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
    ).fetchall()
    assert not [c for c in cols if "identifiant" in c[1].lower()]
    for table, column, _dtype in cols:
        values = {
            str(r[0]) for r in con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"').fetchall()
        }
        assert not (values & ids), f"{table}.{column} leaks identifiers"


def test_every_file_conserves_its_rows(run_2017):
    con = duckdb.connect(str(run_2017.warehouse), read_only=True)
    rows = con.execute(
        "SELECT kind, status, count(*), sum(rows_read), sum(rows_loaded), sum(rows_rejected) "
        "FROM raw.manifest GROUP BY ALL"
    ).fetchall()
    by_kind = {(k, s): (n, rr, rl, rj) for k, s, n, rr, rl, rj in rows}
    assert by_kind[("operateur", "loaded")][0] == 220
    assert by_kind[("finances", "loaded")][0] == 1
    bad = con.execute(
        "SELECT count(*) FROM raw.manifest WHERE rows_read <> rows_loaded + rows_rejected"
    ).fetchone()[0]
    assert bad == 0
    # the committed drop is clean: every row read is loaded
    assert sum(v[3] for v in by_kind.values()) == 0
