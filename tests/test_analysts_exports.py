"""The analysts' exports round-trip to the published marts: xlsx (python-calamine) and Parquet."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pyarrow.parquet as pq
import pytest
from python_calamine import CalamineWorkbook

from dagster_project.publication import PUBLISHED_TABLES
from dagster_project.reporting.exports import ENTETES, FEUILLES

pytestmark = pytest.mark.slow


def _marts_rows(marts, table, where=""):
    con = duckdb.connect(str(marts), read_only=True)
    try:
        cur = con.execute(f"SELECT * FROM {table} {where} ORDER BY ALL")
        cols = [d[0] for d in cur.description]
        return cols, cur.fetchall()
    finally:
        con.close()


def _norm(v):
    """A comparable form of a cell: numbers as float rounded to the cent, dates as dates."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float | Decimal):
        return round(float(v), 2)
    if isinstance(v, dt.datetime):
        return v.date()
    return v


def test_every_published_table_is_exported_as_parquet_and_round_trips(run_2017):
    pq_dir = run_2017.warehouse_dir / "parquet"
    assert {p.stem for p in pq_dir.glob("*.parquet")} == set(PUBLISHED_TABLES)
    for table in PUBLISHED_TABLES:
        cols, rows = _marts_rows(run_2017.marts, table)
        t = pq.read_table(pq_dir / f"{table}.parquet")
        assert t.column_names == cols
        back = sorted(tuple(r[c] for c in cols) for r in t.to_pylist())
        assert back == sorted(rows), table  # exact: decimals stay decimals, dates stay dates
        # types preserved (amounts exact to the cent)
        if "montant_paye_eur" in cols:
            assert str(t.schema.field("montant_paye_eur").type) == "decimal128(14, 2)"


def test_synthesis_workbook_one_formatted_sheet_per_mart_round_trips(run_2017):
    path = run_2017.warehouse_dir / "rapport" / "synthese_2017.xlsx"
    assert path.exists()
    wb = CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names == [FEUILLES[t] for t in FEUILLES if t in PUBLISHED_TABLES]
    by_label = {v: k for k, v in ENTETES.items()}
    for table, sheet in FEUILLES.items():
        cols, rows = _marts_rows(run_2017.marts, table, "WHERE exercice = 2017")
        data = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        header, body = data[0], data[1:]
        assert [by_label[h] for h in header] == cols, sheet  # French headers, every column
        assert all(h != c for h, c in zip(header, cols, strict=True) if c != "siret")
        back = sorted((tuple(_norm(v) for v in r) for r in body), key=repr)
        want = sorted((tuple(_norm(v) for v in r) for r in rows), key=repr)
        assert back == want, sheet


def test_workbook_formats_frozen_header_and_widths(run_2017):
    """Inspect the sheet XML: frozen first row, column widths, number formats, autofilter."""
    import zipfile

    path = run_2017.warehouse_dir / "rapport" / "synthese_2017.xlsx"
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        styles = z.read("xl/styles.xml").decode()
    assert 'ySplit="1"' in sheet and 'state="frozen"' in sheet
    assert "<cols>" in sheet and 'customWidth="1"' in sheet
    assert "<autoFilter" in sheet
    assert '#,##0.00 &quot;€&quot;' in styles and "#,##0" in styles


def test_key_figures_sheet_formats_each_value_as_its_indicator(run_2017):
    """One value column for counts, euros, FTEs and shares: a count is not printed '220,00'."""
    import re
    import zipfile

    path = run_2017.warehouse_dir / "rapport" / "synthese_2017.xlsx"
    sheets = list(FEUILLES)
    n = [t for t in sheets if t in PUBLISHED_TABLES].index("chiffres_cles") + 1
    with zipfile.ZipFile(path) as z:
        sheet = z.read(f"xl/worksheets/sheet{n}.xml").decode()
        styles = z.read("xl/styles.xml").decode()
        strings = re.findall(r"<si><t[^>]*>([^<]*)</t></si>", z.read("xl/sharedStrings.xml")
                             .decode())
    custom = dict(re.findall(r'<numFmt numFmtId="(\d+)" formatCode="([^"]*)"', styles))
    builtin = {"2": "0.00", "3": "#,##0", "4": "#,##0.00"}
    xfs = re.findall(r"<xf [^>]*numFmtId=\"(\d+)\"",
                     styles.split("<cellXfs")[1].split("</cellXfs>")[0])

    def fmt_of(cell_xml):
        style = re.search(r' s="(\d+)"', cell_xml)
        fid = xfs[int(style[1])] if style else "0"
        return custom.get(fid, builtin.get(fid, fid)).replace("&quot;", '"')

    wanted = {"nb_actions", "montant_paye_eur", "etp", "part_budget_pct"}
    found = {}
    for row in re.findall(r"<row [^>]*>(.*?)</row>", sheet)[1:]:  # the header row left out
        cells = re.findall(r"<c [^>]*?(?:/>|>.*?</c>)", row)
        texts = {strings[int(v)] for v in re.findall(r't="s"[^>]*><v>(\d+)</v>', row)}
        for indicateur in texts & wanted:
            found.setdefault(indicateur, fmt_of(cells[-1]))  # the value: the last column
    assert found["nb_actions"] == "#,##0"
    assert found["montant_paye_eur"] == '#,##0.00 "€"'
    assert found["etp"] == "#,##0.00"
    assert found["part_budget_pct"] == "0.00"



def test_a_value_with_more_decimals_is_shown_with_them():
    """An ETP declared '=1/3' is published as 0.333333: the actions' sheet showed 0,33 beside a
    total that adds up the true values (cold review). A column's own decimals are shown, two at
    least; the key figures' ETP (two decimals) and amounts keep theirs."""
    from dagster_project.reporting.exports import _format_chiffre, _format_colonne

    assert _format_colonne("etp", "DECIMAL(18,6)") == "#,##0.00####"
    assert _format_colonne("etp", "DECIMAL(10,2)") == "#,##0.00"
    assert _format_chiffre("etp") == "#,##0.00"
    assert _format_colonne("montant_paye_eur", "DECIMAL(14,2)") == '#,##0.00 "€"'
    # a count named after amounts is a count (paiements_non_comptes: review)
    assert _format_colonne("lignes_montant_inconnu", "BIGINT") == "#,##0"
