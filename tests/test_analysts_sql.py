"""SQL access for analysts: older DuckDB 1.x clients (the 1.4.4 CLI, DuckDB 1.0.0 itself) read
the published file, its views and the documented examples; the year-over-year mart compares
exercises when several are loaded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from analysts_support import ROOT, cli_json, duckdb_cli, sql_blocks

from dagster_project.publication import PUBLISHED_TABLES, publish
from dagster_project.reporting import generate
from dagster_project.reporting.views import VIEW_NAMES, VIEWS_SQL

pytestmark = pytest.mark.slow


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.lstrip("v").split(".")[:3])


def test_an_older_1x_cli_opens_the_published_file(run_2017):
    cli_v = subprocess.run([str(duckdb_cli()), "--version"], capture_output=True, text=True,
                           check=True).stdout.split()[0]
    assert _version(cli_v)[0] == 1 and _version(cli_v) < _version(duckdb.__version__), (
        f"the client ({cli_v}) must be an older 1.x than the pipeline's duckdb "
        f"{duckdb.__version__}")
    rows = cli_json(run_2017.marts, "SELECT table_name, table_type FROM "
                    "information_schema.tables ORDER BY 1;")
    found = {r["table_name"]: r["table_type"] for r in rows}
    for t in PUBLISHED_TABLES:
        assert found.get(t) == "BASE TABLE", t
    for v in VIEW_NAMES:
        assert found.get(v) == "VIEW", v
    for name in [*PUBLISHED_TABLES, *VIEW_NAMES]:
        rows = cli_json(run_2017.marts, f"SELECT * FROM {name} LIMIT 3;")
        # 2017: every payment of the export counted, none to list (the 1.x client reads it)
        assert rows or name == "paiements_non_comptes", name
    total = cli_json(run_2017.marts, "SELECT CAST(valeur AS VARCHAR) AS v FROM chiffres_cles "
                     "WHERE exercice = 2017 AND perimetre = 'total' "
                     "AND indicateur = 'montant_paye_eur';")
    assert total == [{"v": "15866991.00"}]


_READ_WITH = r"""
import json, sys
import duckdb
db, blocks = sys.argv[1], json.loads(sys.stdin.read())
con = duckdb.connect(db, read_only=True)
out = {"version": duckdb.__version__, "module": duckdb.__file__, "counts": {}, "blocks": []}
for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
    out["counts"][name] = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
out["total"] = str(con.execute("SELECT valeur FROM chiffres_cles WHERE exercice = 2017 "
    "AND perimetre = 'total' AND indicateur = 'montant_paye_eur'").fetchone()[0])
for sql in blocks:
    out["blocks"].append(len(con.execute(sql).fetchall()))
print(json.dumps(out))
"""


def test_the_first_duckdb_1x_reads_every_table_view_and_example(run_2017):
    """The doc promises that any DuckDB 1.x client opens ``marts.duckdb`` (written in storage
    v1.0.0): DuckDB 1.0.0 itself reads every published table and view (a view calling a function
    newer than 1.0 would fail here) and runs every SQL example of the analysts' doc."""
    import json

    from analysts_support import OLDEST_DUCKDB, oldest_duckdb_path

    blocks = sql_blocks()
    proc = subprocess.run(
        [sys.executable, "-c", _READ_WITH, str(run_2017.marts)], input=json.dumps(blocks),
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(oldest_duckdb_path())},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["version"] == OLDEST_DUCKDB, out["module"]
    assert set(out["counts"]) == {*PUBLISHED_TABLES, *VIEW_NAMES}
    assert all(n > 0 for name, n in out["counts"].items() if name != "paiements_non_comptes")
    assert out["total"] == "15866991.00"
    assert len(out["blocks"]) == len(blocks) and all(out["blocks"]), out["blocks"]


def test_published_tables_and_columns_carry_their_documentation(run_2017):
    """What each published column means travels with the file: dbt's descriptions of the marts
    (persist_docs) are the tables' and columns' comments, which the 1.x client reads too; the
    table built by a query (paiements_non_comptes) has its own, every column (cold review: it
    had none)."""
    import json

    from dagster_project.assets.dbt import DBT_PROJECT

    nodes = json.loads(Path(DBT_PROJECT.manifest_path).read_text("utf-8"))["nodes"].values()
    models = {n["name"]: n for n in nodes if n["resource_type"] == "model"}
    rows = cli_json(run_2017.marts, "SELECT table_name, NULL AS column_name, comment "
                    "FROM duckdb_tables() UNION ALL SELECT table_name, column_name, comment "
                    "FROM duckdb_columns() WHERE NOT internal;")
    comments = {(r["table_name"], r["column_name"]): r["comment"] for r in rows}
    documented = 0
    from dagster_project.publication import QUERY_COMMENTS

    for name, rel in PUBLISHED_TABLES.items():
        if not rel.startswith("marts."):  # a query of the warehouse: its comments are the code's
            columns = {r["column_name"] for r in rows if r["table_name"] == name}
            assert columns and set(QUERY_COMMENTS[name]) == columns | {None}, name
            for column, text in QUERY_COMMENTS[name].items():
                assert comments[(name, column)] == text, (name, column)
                documented += 1
            continue
        model = models[rel.split(".")[1]]
        assert comments[(name, None)].strip() == model["description"].strip(), name
        for column, doc in model["columns"].items():
            assert comments[(name, column)].strip() == doc["description"].strip(), (name, column)
            documented += 1
    assert documented > 60


def test_every_sql_example_of_the_analysts_doc_returns_rows(run_2017):
    blocks = sql_blocks()
    assert 8 <= len(blocks) <= 12
    con = duckdb.connect(str(run_2017.marts), read_only=True)
    try:
        for sql in blocks:
            assert cli_json(run_2017.marts, sql), f"1.x CLI: no row for\n{sql}"
            assert con.execute(sql).fetchall(), f"python duckdb: no row for\n{sql}"
    finally:
        con.close()


def test_views_agree_with_the_report_figures(run_2017):
    con = duckdb.connect(str(run_2017.marts), read_only=True)
    try:
        budget = dict(con.execute("SELECT code_domaine, part_budget_pct FROM "
                                  "v_budget_par_domaine WHERE exercice = 2017").fetchall())
        assert float(budget["EMP"]) == pytest.approx(40.83)
        sorties = con.execute(
            "SELECT volet, sum(nb_sorties), any_value(fins_accompagnement) "
            "FROM v_sorties_par_categorie WHERE exercice = 2017 GROUP BY volet ORDER BY 1"
        ).fetchall()
        assert sorties == [("PRO", 9145, 9145), ("SOC", 3637, 3637)]
        n_ops = con.execute("SELECT count(*) FROM v_operateurs WHERE exercice = 2017").fetchone()
        assert n_ops[0] == 124
        # every ratio of the views is the exact quotient of its columns, rounded half up: one
        # was a cent off (44 237.74 € / 68 = 650.555 published 650.55, tests/test_rounding.py)
        rows = con.execute(
            "SELECT num_convention, montant_paye_eur, accompagnements, "
            "montant_par_accompagnement_eur, sorties_emploi_formation, fins_accompagnement, "
            "taux_sorties_emploi_formation_pct "
            "FROM v_actions WHERE exercice = 2017").fetchall()
        assert len(rows) == 220
        cent = Decimal("0.01")
        for conv, montant, accs, par_acc, sorties, fins, taux in rows:
            assert par_acc == (None if not accs else
                               (montant / accs).quantize(cent, ROUND_HALF_UP)), conv
            assert taux == (None if not fins else
                            (Decimal(100 * sorties) / fins).quantize(cent, ROUND_HALF_UP)), conv
        assert dict((r[0], r[3]) for r in rows)["PDI-2017-0142"] == Decimal("650.56")
    finally:
        con.close()


NON_COMPTE = "2019;2019-09999;15/06/2019;PDI-2019-0999;ASSO FANTOME;12345678900011;Avance;12 345,67"


@pytest.fixture(scope="module")
def marts_2017_2019(run_2017, tmp_path_factory) -> Path:
    """2017 + a generated 2019: the session's warehouse, 2019 ingested, the marts rebuilt by dbt
    (models only: the tests ran on 2017 in run_2017) and published with the views."""
    from dagster_project.ingestion.loader import ingest_exercice

    base = tmp_path_factory.mktemp("deux_exercices")
    raw, wh = base / "raw", base / "warehouse"
    wh.mkdir()
    shutil.copy(run_2017.warehouse, wh / "bilan.duckdb")
    subprocess.run([str(Path(sys.executable).parent / "bilan-data"), "--exercice", "2019",
                    "--seed", "7", "--out", str(raw)], check=True, capture_output=True,
                   timeout=300)
    # one payment the bilan cannot count (its convention has no workbook): published apart
    export = raw / "2019" / "finances" / "mandats_2019.csv"
    text = export.read_bytes().decode("cp1252")
    export.write_bytes((text.rstrip("\r\n") + "\r\n" + NON_COMPTE + "\r\n").encode("cp1252"))
    con = duckdb.connect(str(wh / "bilan.duckdb"))
    try:
        ingest_exercice(con, raw, 2019, run_id="test-deux-exercices")
    finally:
        con.close()
    env = dict(os.environ, BILAN_WAREHOUSE_DIR=str(wh), DBT_SEND_ANONYMOUS_USAGE_STATS="false",
               DO_NOT_TRACK="1")
    dbt = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "run", "--project-dir", str(ROOT / "dbt"),
         "--profiles-dir", str(ROOT / "dbt"), "--target-path", str(base / "dbt_target"),
         "--log-path", str(base / "dbt_logs"), "--select", "+marts"],
        env=env, capture_output=True, text=True, timeout=600)
    assert dbt.returncode == 0, dbt.stdout[-3000:]
    con = duckdb.connect(str(wh / "bilan.duckdb"))
    try:
        publish(con, wh / "marts.duckdb", views_sql=VIEWS_SQL)
    finally:
        con.close()
    return wh / "marts.duckdb"


def test_year_over_year_mart_compares_each_thematic_across_exercises(marts_2017_2019):
    rows = cli_json(marts_2017_2019, """
        SELECT exercice, exercice_precedent, code_thematique,
               CAST(montant_paye_eur AS DOUBLE) AS m,
               CAST(montant_paye_eur_precedent AS DOUBLE) AS mp,
               CAST(evolution_montant_eur AS DOUBLE) AS evol,
               accompagnements, accompagnements_precedent
        FROM v_evolution_thematiques ORDER BY code_thematique, exercice;""")
    assert {r["exercice"] for r in rows} == {2017, 2019}
    first = [r for r in rows if r["exercice"] == 2017]
    assert first and all(r["exercice_precedent"] is None and r["evol"] is None for r in first)
    by_code_2017 = {r["code_thematique"]: r for r in first}
    later = [r for r in rows if r["exercice"] == 2019]
    assert len(later) == len(first) == 19
    for r in later:
        prev = by_code_2017[r["code_thematique"]]
        assert r["exercice_precedent"] == 2017  # the previous LOADED exercise, not 2018
        assert r["mp"] == prev["m"]
        assert r["evol"] == pytest.approx(r["m"] - r["mp"])
        assert r["accompagnements_precedent"] == prev["accompagnements"]
    # 2017's published figures are untouched by loading 2019
    tot = cli_json(marts_2017_2019, "SELECT exercice, CAST(valeur AS DOUBLE) AS v FROM "
                   "chiffres_cles WHERE perimetre = 'total' AND indicateur = 'montant_paye_eur' "
                   "ORDER BY 1;")
    assert tot[0] == {"exercice": 2017, "v": 15866991.0} and tot[1]["exercice"] == 2019
    # the doc examples still return rows with two exercises
    for sql in sql_blocks():
        assert cli_json(marts_2017_2019, sql), sql


def test_reports_of_both_exercises_with_the_year_over_year_section(marts_2017_2019, tmp_path):
    out = generate(marts_2017_2019, tmp_path, marts_2017_2019.parent / "bilan.duckdb",
                   pdf=False)
    assert set(out.html) == {2017, 2019} and set(out.xlsx) == {2017, 2019}
    r2019 = out.html[2019].read_text(encoding="utf-8")
    r2017 = out.html[2019].with_name("bilan_2017.html").read_text(encoding="utf-8")
    assert "Évolution 2017 → 2019 par thématique" in r2019
    assert "Premier exercice chargé" in r2017
    # no published figures for 2019: no control, and no note about the 2017 document
    assert "Aucun chiffre publié" in r2019 and "Le document publié imprime" not in r2019


def test_payments_not_counted_are_published_and_reconcile_with_the_export(marts_2017_2019):
    """A payment of the export that the bilan does not count (its convention has no workbook)
    was stated by the console and the report only: an analyst comparing montant_paye_eur with
    the finance system saw an unexplained gap (cold review). `paiements_non_comptes` holds it,
    by exercise, convention and reason, and the two add up to the export's total."""
    from decimal import Decimal

    from export_reader import total_cents

    con = duckdb.connect(str(marts_2017_2019), read_only=True)
    try:
        types = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'paiements_non_comptes' ORDER BY ordinal_position").fetchall()
        rows = con.execute("SELECT * FROM paiements_non_comptes ORDER BY ALL").fetchall()
        compte = con.execute("SELECT sum(montant_paye_eur) FROM actions WHERE exercice = 2019"
                             ).fetchone()[0]
    finally:
        con.close()
    assert types == [("exercice", "INTEGER"), ("num_convention", "VARCHAR"), ("motif", "VARCHAR"),
                     ("lignes", "BIGINT"), ("montant_eur", "DECIMAL(14,2)"),
                     ("lignes_montant_inconnu", "BIGINT")]
    [(ex, conv, motif, lignes, montant, inconnu)] = rows  # 2017: every payment counted, no row
    assert (ex, conv, lignes, inconnu, montant) == (2019, "PDI-2019-0999", 1, 0,
                                                    Decimal("12345.67"))
    assert motif.startswith("convention inconnue"), motif
    # the export's total read without the pipeline's parser (tests/export_reader.py)
    total = total_cents(marts_2017_2019.parent.parent / "raw" / "2019" / "finances"
                        / "mandats_2019.csv")
    assert (compte + montant) * 100 == total
    # the doc's question 11 answers it: the export's total, no unknown amount
    [question_11] = [b for b in sql_blocks() if "paiements_non_comptes" in b]
    with duckdb.connect(str(marts_2017_2019), read_only=True) as con:
        got = {r[0]: r[1:] for r in con.execute(question_11).fetchall()}
    assert got[2019] == (compte, montant, compte + montant, 0)
    assert got[2017][1:] == (Decimal(0), got[2017][0], 0)
