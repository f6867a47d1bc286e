"""Property tests: the parsers never raise and always conserve row counts."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from fixtures_parsing import (
    CER_HEADER,
    PARTICIPANT_HEADER,
    action_rows,
    check_invariants,
    write_workbook,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagster_project.parsing import (
    ValeurInvalide,
    normalize_label,
    parse_date,
    parse_french_amount,
    parse_french_decimal,
    parse_identifiant,
    parse_mandats,
    parse_oui_non,
    parse_siret,
    parse_whole_number,
    parse_workbook,
)
from dagster_project.parsing import workbook as wbmod
from dagster_project.parsing.nomenclature import load_nomenclature

FAST = settings(max_examples=200, deadline=None)
SLOW = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
special_texts = st.sampled_from(
    [
        "",
        " ",
        "Total",
        "TOTAL général",
        "Identifiant",
        "Date d'entrée",
        "Oui",
        "non",
        "ID-EMPLOI",
        "décès",
        "01/02/2017",
        "2017-13-45",
        "31/02/2017",
        "1 234,5",
        "PDI-2017-0001",
        "RU",
        "n",
    ]
)
dates = st.dates(min_value=dt.date(1890, 1, 1), max_value=dt.date(2120, 12, 31))
numbers = st.one_of(
    st.integers(-(10**15), 10**15), st.floats(allow_nan=False, allow_infinity=False, width=32)
)
# what calamine can hand back (no None: empty cells are '')
grid_cells = st.one_of(
    texts,
    special_texts,
    dates,
    numbers,
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    st.just(""),
)
# what the fixture writer accepts (None = empty cell)
file_cells = st.one_of(
    texts.filter(lambda s: s.isprintable()),
    special_texts,
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2099, 12, 31)),
    st.integers(-(10**9), 10**9),
    st.booleans(),
    st.none(),
)


def _rect(rows):
    width = max((len(r) for r in rows), default=0)
    return [list(r) + [""] * (width - len(r)) for r in rows]


# ------------------------------------------------------------------ value parsers
@FAST
@given(st.one_of(grid_cells, st.none(), st.floats(), st.times(), st.timedeltas()))
def test_value_parsers_only_raise_valeur_invalide(value):
    for fn in (
        parse_date,
        parse_french_decimal,
        parse_french_amount,
        parse_siret,
        parse_oui_non,
        parse_whole_number,
        parse_identifiant,
    ):
        try:
            fn(value)
        except ValeurInvalide as exc:
            assert str(exc)


@FAST
@given(texts)
def test_normalize_label_is_idempotent_and_clean(s):
    n = normalize_label(s)
    assert normalize_label(n) == n
    assert n == n.strip() and "  " not in n


# ------------------------------------------------------------------ grids (fast, in memory)
@FAST
@given(st.lists(st.lists(grid_cells, max_size=7), max_size=25), st.booleans())
def test_participants_grid_never_raises(rows, with_header):
    grid = _rect(([["Titre"], PARTICIPANT_HEADER] if with_header else []) + rows)
    res = wbmod._parse_participants(
        grid, "Participants", 2017, "PDI-2017-0001", load_nomenclature()
    )
    if res.header_error is not None:  # the whole file would be rejected: nothing loaded
        assert with_header is False and not res.rows and not res.rejets
        return
    assert res.rows_read == len(res.rows) + len(res.rejets)
    for rej in res.rejets:
        assert rej.row_number is not None and rej.row_number > (2 if with_header else 0)
        if rej.column_name == "Identifiant":
            assert rej.value is None or rej.value.startswith("sha256:")


@FAST
@given(st.lists(st.lists(grid_cells, max_size=5), max_size=25))
def test_cer_grid_never_raises(rows):
    grid = _rect([CER_HEADER] + rows)
    res = wbmod._parse_cer(grid, "CER", 2017, "PDI-2017-0001")
    assert res.header_error is None
    assert res.rows_read == len(res.rows) + len(res.rejets)


@FAST
@given(st.lists(st.lists(grid_cells, max_size=6), max_size=20))
def test_action_grid_never_raises_unexpectedly(rows):
    grid = _rect(action_rows() + rows)
    try:
        action, them = wbmod._parse_action(grid, "Action", 2017, load_nomenclature())
        assert action["num_convention"].startswith("PDI-2017-")
    except wbmod._FileRejected as exc:
        assert exc.reason


# ------------------------------------------------------------------ real files
@SLOW
@given(
    st.binary(max_size=3000),
    st.sampled_from([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"]),
    st.sampled_from([".xlsx", ".ods"]),
)
def test_random_bytes_rejected_with_reason(data, prefix, suffix):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"f{suffix}"
        path.write_bytes(prefix + data)
        r = parse_workbook(path, exercice=2017)
    check_invariants(r)
    assert r.file_rejected and r.rejets[0].reason


_VALID: dict[str, bytes] = {}


def _valid_bytes(fmt: str) -> bytes:
    """A valid workbook, written once (its bytes carry a timestamp: keep them fixed)."""
    if fmt not in _VALID:
        with tempfile.TemporaryDirectory() as d:
            path = write_workbook(
                Path(d) / f"w.{fmt}",
                {
                    "Action": action_rows(),
                    "Participants": [
                        PARTICIPANT_HEADER,
                        ["P1", dt.date(2017, 1, 1), None, None, "Oui"],
                    ],
                },
            )
            _VALID[fmt] = path.read_bytes()
    return _VALID[fmt]


@SLOW
@given(
    st.sampled_from(["xlsx", "ods"]),
    st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=20
    ),
    st.floats(0.5, 1),
)
def test_mutated_valid_workbook_never_raises(fmt, mutations, keep):
    raw = bytearray(_valid_bytes(fmt))
    for where, byte in mutations:
        raw[int(where * len(raw))] = byte
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"w.{fmt}"
        path.write_bytes(bytes(raw[: max(1, int(keep * len(raw)))]))
        r = parse_workbook(path, exercice=2017)
    check_invariants(r, ("P1",))


idents = st.one_of(
    st.from_regex(r"ID[0-9]{6}", fullmatch=True), st.integers(10**6, 10**7), st.none(), st.just("")
)


@SLOW
@given(
    st.lists(st.tuples(idents, st.lists(file_cells, max_size=5)), max_size=12),
    st.dictionaries(
        st.sampled_from(list(action_rows(title=False)[i][0] for i in range(8))),
        file_cells,
        max_size=3,
    ),
    st.sampled_from(["xlsx", "ods"]),
)
def test_random_cells_in_workbook_never_raise(rows, action_overrides, fmt):
    ids = [str(i) for i, _ in rows if i]
    rows = [[i, *rest] for i, rest in rows]
    with tempfile.TemporaryDirectory() as d:
        path = write_workbook(
            Path(d) / f"w.{fmt}",
            {
                "Action": action_rows(action_overrides),
                "Participants": [["Titre"], PARTICIPANT_HEADER] + rows,
            },
        )
        r = parse_workbook(path, exercice=2017)
    check_invariants(r)
    for rej in r.rejets:
        if rej.column_name == "Identifiant":
            assert rej.value is None or rej.value.startswith("sha256:")
        for ident in ids:
            assert ident not in rej.reason


# ------------------------------------------------------------------ finance export
csv_fields = st.one_of(
    texts.filter(lambda s: "\x00" not in s),
    special_texts,
    st.sampled_from(["2017", "M1", "Avance", "12 345,67", "15/02/2017", '"']),
)


@FAST
@given(
    st.lists(st.lists(csv_fields, max_size=9), max_size=15),
    st.sampled_from(["cp1252", "utf-8", "utf-8-sig"]),
)
def test_mandats_never_raise(lines, encoding):
    header = "Exercice;N° mandat;Date d'émission;N° convention;Tiers;SIRET;Nature;Montant"
    text = "\r\n".join([header] + [";".join(fields) for fields in lines])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "mandats_2017.csv"
        path.write_bytes(text.encode(encoding, errors="replace"))
        r = parse_mandats(path, exercice=2017)
    check_invariants(r)
    for row in r.rows:
        assert row["exercice"] == 2017 and row["nature"] in {
            "Avance",
            "Solde",
            "Avenant",
            "Annulation",
        }


@FAST
@given(st.binary(max_size=2000))
def test_mandats_random_bytes_never_raise(data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "mandats_2017.csv"
        path.write_bytes(data)
        r = parse_mandats(path, exercice=2017)
    check_invariants(r)


_CELLS = st.sampled_from(
    [
        None,
        "",
        " ",
        "\u00a0",
        "\t",
        "Total",
        " total général",
        "TOTAL :",
        "Totalement",
        "T1",
        "toto",
        "x",
        3.0,
        0,
        dt.date(2017, 1, 1),
        True,
        "Sous-total",
        "12/03/2017",
    ]
)


@given(st.lists(_CELLS, min_size=1, max_size=6))
def test_total_row_shortcut_matches_its_definition(row):
    """``_is_total_row`` takes shortcuts on column A (every data row goes through it): it must
    still say exactly 'the first non-empty cell is a text reading Total…'."""
    first = next((v for v in row if not wbmod._blank(v)), None)
    assert wbmod._is_total_row(row) == (type(first) is str and wbmod._is_total(first))
