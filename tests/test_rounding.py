"""Exact rounded divisions: dbt's macro and the analysts' views against Python's Decimal.

A ratio of an amount (DECIMAL) was computed ``round(a / b, 2)``: DuckDB divides in DOUBLE, so
44 237.74 € / 68 accompaniments = 650.555 exactly was published as 650.55 (PDI-2017-0142 in
``v_actions``, found by an independent recomputation of the 2017 marts). Both SQL writers of
ratios (``dbt/macros/rounded_division.sql`` rendered by dbt for the marts, and by
``reporting/views.py`` for the views) are checked here on the same cases, ties included,
against ``ROUND_HALF_UP`` (the report's rounding, ``reporting/fr.arrondi``).
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import jinja2
import pytest

from dagster_project.reporting import views

ROOT = Path(__file__).resolve().parents[1]
MACROS = (ROOT / "dbt" / "macros" / "rounded_division.sql").read_text(encoding="utf-8")

# (numerator, denominator): amounts to the cent and counts; ties at the third decimal
TIES = [("44237.74", "68"), ("1", "8"), ("-1", "8"), ("0.05", "2"), ("-0.05", "2"),
        ("1", "-8"), ("0.01", "200"), ("12345.67", "0.5"), ("2.5", "1"), ("0.125", "1")]
OTHERS = [("1", "3"), ("2", "3"), ("-2", "3"), ("0", "7"), ("15866991.00", "12782"),
          ("999999999.99", "1"), ("1", "999999"), ("7", "0"), (None, "3"), ("3", None)]


def _cases() -> list[tuple[str | None, str | None]]:
    rng = random.Random(2017)
    drawn = [(f"{Decimal(rng.randint(-10**9, 10**9)) / 100}", str(rng.randint(1, 600)))
             for _ in range(400)]
    # ties by construction: n = d × (k + 0.005), k to the cent, d even
    ties = [(str((Decimal(rng.randint(0, 10**6)) / 100 + Decimal("0.005")) * d), str(d))
            for d in (2 * rng.randint(1, 400) for _ in range(200))]
    return TIES + OTHERS + drawn + ties


def _expected(n: str | None, d: str | None, decimales: int, factor: int = 1) -> Decimal | None:
    if n is None or d is None or Decimal(d) == 0:
        return None
    return (factor * Decimal(n) / Decimal(d)).quantize(Decimal(1).scaleb(-decimales),
                                                       rounding=ROUND_HALF_UP)


def _dbt_macro(call: str) -> str:
    """The SQL dbt writes for ``call`` (the macro file rendered as dbt renders it: Jinja)."""
    return jinja2.Environment().from_string(MACROS + "{{ " + call + " }}").render().strip()


WRITERS = {
    "dbt": (lambda n, d, k: _dbt_macro(f"rounded_division('{n}', '{d}', {k})"),
            lambda p, w: _dbt_macro(f"percentage('{p}', '{w}')")),
    "views": (views.rounded_division, views.percentage),
}


def _run(sql_of, cases, **kw) -> list:
    con = duckdb.connect()
    con.execute("CREATE TABLE c (i INTEGER, n DECIMAL(18, 3), d DECIMAL(18, 3))")
    con.executemany("INSERT INTO c VALUES (?, ?, ?)",
                    [(i, n, d) for i, (n, d) in enumerate(cases)])
    return [r[0] for r in con.execute(f"SELECT {sql_of('n', 'd', **kw)} FROM c ORDER BY i")
            .fetchall()]


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("decimales", [2, 0, 1, 3])
def test_rounded_division_is_exact_half_away_from_zero(writer, decimales):
    cases = _cases()
    got = _run(lambda n, d: WRITERS[writer][0](n, d, decimales), cases)
    want = [_expected(n, d, decimales) for n, d in cases]
    wrong = [(c, g, w) for c, g, w in zip(cases, got, want, strict=True) if g != w]
    assert not wrong, wrong[:10]


@pytest.mark.parametrize("writer", WRITERS)
def test_percentage_is_exact(writer):
    cases = _cases()
    got = _run(WRITERS[writer][1], cases)
    want = [_expected(n, d, 2, factor=100) for n, d in cases]
    wrong = [(c, g, w) for c, g, w in zip(cases, got, want, strict=True) if g != w]
    assert not wrong, wrong[:10]


def test_integer_operands_do_not_overflow():
    """Counts are INTEGER: scaled by 10^6 as integers they would overflow at 2,148."""
    con = duckdb.connect()
    for writer in WRITERS:
        sql = WRITERS[writer][1]("3000000::INTEGER", "7000000::INTEGER")
        assert con.execute(f"SELECT {sql}").fetchone()[0] == Decimal("42.86"), writer


def test_the_tie_that_was_published_wrong_is_one_for_duckdb_round():
    """The cases above would pass with round(a / b, 2) if DuckDB divided decimals exactly."""
    got = duckdb.sql("SELECT round(44237.74::DECIMAL(18, 2) / 68, 2)").fetchone()[0]
    assert got == pytest.approx(650.55)
