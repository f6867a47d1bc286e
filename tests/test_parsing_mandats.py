"""Tests of parse_mandats (finance export: ';'-separated, Windows-1252, French numbers)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from fixtures_parsing import check_invariants

from dagster_project.parsing import MANDAT_COLUMNS, parse_mandats

HEADER = "Exercice;N° mandat;Date d'émission;N° convention;Tiers;SIRET;Nature;Montant"


def write(tmp_path, lines, encoding="cp1252", name="mandats_2017.csv", newline="\r\n"):
    path = tmp_path / name
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode())
    return path


def parse(path, exercice=2017):
    r = parse_mandats(path, exercice=exercice)
    check_invariants(r)
    for row in r.rows:
        assert tuple(row) == MANDAT_COLUMNS
    return r


def test_nominal_cp1252(tmp_path):
    path = write(
        tmp_path,
        [
            HEADER,
            "2017;M001;15/02/2017;PDI-2017-0001;Association Éléonore;123 456 789 00012;"
            "Avance;12 345,67",
            "2017;M002;1/9/2017;pdi-2017-0001;Association Éléonore;12345678900012;"
            "SOLDE;1\u00a0000,00",
            "2017;M003;01/10/2017;PDI-2017-0002;Régie;12345678900013;annulation;-1 234,00",
        ],
    )
    r = parse(path)
    assert not r.file_rejected and r.rejets == []
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 3, 0)
    m1, m2, m3 = r.rows
    assert m1 == {
        "exercice": 2017,
        "num_mandat": "M001",
        "date_emission": dt.date(2017, 2, 15),
        "num_convention": "PDI-2017-0001",
        "tiers": "Association Éléonore",
        "siret": "12345678900012",
        "nature": "Avance",
        "montant": Decimal("12345.67"),
        "source_sheet": None,
        "source_row": 2,
    }
    assert m2["nature"] == "Solde" and m2["montant"] == Decimal("1000.00")
    assert m2["num_convention"] == "PDI-2017-0001" and m2["date_emission"] == dt.date(2017, 9, 1)
    assert m3["nature"] == "Annulation" and m3["montant"] == Decimal("-1234.00")
    assert m3["source_row"] == 4


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8"])
def test_utf8_exports_tolerated(tmp_path, encoding):
    path = write(
        tmp_path,
        [HEADER, "2017;M1;15/02/2017;PDI-2017-0001;Crèche;;Avance;10,00"],
        encoding=encoding,
        newline="\n",
    )
    r = parse(path)
    assert r.rows[0]["tiers"] == "Crèche" and r.rows[0]["siret"] is None


def test_columns_any_order_and_label_variants(tmp_path):
    path = write(
        tmp_path,
        [
            "MONTANT;nature;n° de mandat;Tiers;SIRET;Date d'emission;N° CONVENTION;EXERCICE;"
            "Commentaire",
            "500,5;Avenant;A-9;Asso;12345678900012;03/03/2017;PDI-2017-0003;2017;rien",
        ],
    )
    r = parse(path)
    assert r.rows[0]["montant"] == Decimal("500.50") and r.rows[0]["num_mandat"] == "A-9"
    assert r.rows[0]["nature"] == "Avenant" and r.rows[0]["num_convention"] == "PDI-2017-0003"


def test_blank_and_total_lines_not_counted(tmp_path):
    path = write(
        tmp_path,
        [
            HEADER,
            "2017;M1;15/02/2017;PDI-2017-0001;Asso;12345678900012;Avance;10,00",
            "",
            ";;;;;;;",
            "2017;M2;15/02/2017;PDI-2017-0001;Asso;12345678900012;Solde;20,00",
            # the workbooks' total labels too (they were read, refused, and their amounts
            # stated as payments not counted)
            "Sous-total;;;;;;;30,00",
            "Totaux;;;;;;;30,00",
            "Total;;;;;;;30,00",
        ],
    )
    r = parse(path)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert [m["source_row"] for m in r.rows] == [2, 5]


def test_a_payee_named_total_is_a_payment_not_a_total_line(tmp_path):
    """A line whose first filled cell reads 'Total …' is a Total line only when it carries no
    mandate: with the payee first (columns come in any order), a payee 'Total Insertion' was
    skipped unseen, its payment with it."""
    path = write(
        tmp_path,
        [
            "Tiers;Exercice;N° mandat;Date d'émission;N° convention;SIRET;Nature;Montant",
            "Total Insertion;2017;M1;15/02/2017;PDI-2017-0001;12345678900012;Avance;10,00",
            "Asso;2017;M2;15/02/2017;PDI-2017-0001;12345678900012;Solde;20,00",
            "Total;;;;;;;30,00",
        ],
    )
    r = parse(path)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert [(m["num_mandat"], m["tiers"]) for m in r.rows] == [
        ("M1", "Total Insertion"), ("M2", "Asso")]


@pytest.mark.parametrize("first", ["N° mandat", "N° convention"])
def test_total_line_under_the_mandate_or_convention_column(tmp_path, first):
    """With the mandate's or the convention's column first, the Total label sits in it: still a
    Total line (it was read and refused, its amount then stated as a payment not counted)."""
    cols = ["Exercice", "N° mandat", "Date d'émission", "N° convention", "Tiers", "SIRET",
            "Nature", "Montant"]
    cols.remove(first)
    cols.insert(0, first)
    line = dict(zip(["Exercice", "N° mandat", "Date d'émission", "N° convention", "Tiers",
                     "SIRET", "Nature", "Montant"], GOOD, strict=True))
    path = write(tmp_path, [";".join(cols), ";".join(line[c] for c in cols),
                            ";".join(["Total général"] + [""] * 6 + ["10,00"])])
    r = parse(path)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0), r.rejets


def test_a_spreadsheets_subtotals_and_an_unlabelled_sum_are_no_payments(tmp_path):
    """Subtotals a spreadsheet writes ('PDI-2017-0001 Total', 'Grand Total', 'Somme', a 'TOTAL'
    under the mandate) are Total lines; an amount alone (an unlabelled =SOMME()) is refused
    without its amount. Each was refused with its amount, then stated as money paid and not
    counted: twice the export's total in one case (finance export review)."""
    path = write(tmp_path, [
        HEADER,
        "2017;M1;15/02/2017;PDI-2017-0001;Asso;12345678900012;Avance;10,00",
        ";;;PDI-2017-0001 Total;;;;10,00",
        "2017;M2;15/02/2017;PDI-2017-0002;Asso;12345678900012;Solde;20,00",
        ";;;PDI-2017-0002 Total;;;;20,00",
        ";;;Grand Total;;;;30,00",
        ";;;;;;Somme;30,00",
        "2017;TOTAL;;;;;;30,00",
        ";;;;;;;30,00",  # row 9: an amount alone
    ])
    r = parse(path)
    assert [m["num_mandat"] for m in r.rows] == ["M1", "M2"]
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)
    [rej] = r.rejets
    assert rej.row_number == 9 and "un total ?" in rej.reason and rej.montant is None


def test_thousands_spaces_must_group_by_three(tmp_path):
    """An export cut in the middle of '33 954,74' ends '33 9': read as 339 €, published silently
    (finance export review). Spaces between digits are thousands separators only by three."""
    path = write(tmp_path, [
        HEADER,
        "2017;M1;15/02/2017;PDI-2017-0001;Asso;12345678900012;Avance;1 234 567,89",
        "2017;M2;15/02/2017;PDI-2017-0001;Asso;12345678900012;Solde;33 9",
        "2017;M3;15/02/2017;PDI-2017-0001;Asso;12345678900012;Solde;12 34,50",
    ])
    r = parse(path)
    assert [(m["num_mandat"], m["montant"]) for m in r.rows] == [("M1", Decimal("1234567.89"))]
    assert [(j.row_number, j.column_name) for j in r.rejets] == [(3, "Montant"), (4, "Montant")]
    assert all("groupes de trois" in j.reason and j.montant is None for j in r.rejets)


@pytest.mark.parametrize("cut", ["33 954,7", "33 954", "33 954,"])
def test_an_export_cut_in_its_last_amount_is_refused(tmp_path, cut):
    """An export cut inside its last amount ('33 954,74'), with no line ending after it, read
    33 954,70 € or 33 954 € as paid (finance export review): an amount that lacks the two
    decimals every other line writes, on a last line left unterminated, is refused with its
    amount unknown; the same amount on a line that ends, or in an export that writes no cents,
    is read."""
    lines = [HEADER,
             "2017;M1;15/02/2017;PDI-2017-0001;Asso;12345678900012;Avance;1 000,00",
             f"2017;M2;15/02/2017;PDI-2017-0001;Asso;12345678900012;Solde;{cut}"]
    path = tmp_path / "mandats_2017.csv"
    path.write_bytes("\r\n".join(lines).encode("cp1252"))  # no line ending after the last
    r = parse(path)
    assert [m["num_mandat"] for m in r.rows] == ["M1"]
    [rej] = r.rejets
    assert (rej.row_number, rej.column_name, rej.montant, rej.num_mandat) == (
        3, "Montant", None, "M2")
    assert "l'export semble coupé" in rej.reason
    if cut == "33 954,":
        return
    # the same line with its line ending: read (an amount may be written without cents)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    assert [m["num_mandat"] for m in parse(path).rows] == ["M1", "M2"]
    # an export that writes its amounts without cents, its last line unterminated: read
    lines[1] = lines[1].replace("1 000,00", "1000")
    path.write_bytes("\r\n".join(lines).encode("cp1252"))
    assert [m["num_mandat"] for m in parse(path).rows] == ["M1", "M2"]
    # a whole last amount, line unterminated: read
    lines[1], lines[2] = lines[1].replace("1000", "1 000,00"), lines[2].replace(cut, "33 954,74")
    path.write_bytes("\r\n".join(lines).encode("cp1252"))
    assert [m["montant"] for m in parse(path).rows] == [Decimal("1000.00"), Decimal("33954.74")]


@pytest.mark.parametrize(("amounts", "refused"), [
    (["(250,00)", "250,00-"], False),  # negatives written with their cents: read
    (["-1 000,00", "(250,00)"], False),
    (["1 000,00", "-33 954,7"], True),  # a negative cut
    (["250,00-", "33 954"], True),  # the other lines' cents, however their sign is written
    (["1 000,00", "33 954,7;"], False),  # a field after it: the amount ends, not the file
])
def test_the_cut_check_reads_signs_and_the_file_end(tmp_path, amounts, refused):
    lines = [HEADER] + [f"2017;M{i};15/02/2017;PDI-2017-0001;Asso;12345678900012;Solde;{a}"
                        for i, a in enumerate(amounts, start=1)]
    path = tmp_path / "mandats_2017.csv"
    path.write_bytes("\r\n".join(lines).encode("cp1252"))
    r = parse(path)
    assert [m["num_mandat"] for m in r.rows] == (["M1"] if refused else ["M1", "M2"]), r.rejets
    assert bool(r.rejets) is refused


def test_a_cut_last_line_refused_for_another_cell_keeps_no_amount(tmp_path):
    """Refused for its date, the cut line's amount is not stated as money not counted."""
    path = tmp_path / "mandats_2017.csv"
    path.write_bytes("\r\n".join([
        HEADER, "2017;M1;15/02/2017;PDI-2017-0001;Asso;12345678900012;Avance;1 000,00",
        "2017;M2;31/02/2017;PDI-2017-0001;Asso;12345678900012;Solde;33 954,7"]).encode("cp1252"))
    [rej] = parse(path).rejets
    assert rej.column_name == "Date d'émission" and rej.montant is None
    path.write_bytes(path.read_bytes() + b"\r\n")  # not cut: its amount is known
    [rej] = parse(path).rejets
    assert rej.montant == Decimal("33954.70")


def test_a_utf8_mark_before_a_cp1252_byte(tmp_path):
    """A UTF-8 BOM, then a Windows-1252 'É' (lines pasted from another export): read as any
    export without its mark. The whole export was refused ('erreur inattendue:
    UnicodeDecodeError', 0 lines read) and its payments counted nowhere."""
    path = tmp_path / "mandats_2017.csv"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER.encode("utf-8") + b"\r\n"
                     + "2017;M1;15/02/2017;PDI-2017-0001;ÉCOLE;12345678900012;Avance;10,00\r\n"
                     .encode("cp1252"))
    r = parse(path)
    assert not r.file_rejected and [m["tiers"] for m in r.rows] == ["ÉCOLE"]


GOOD = ["2017", "M1", "15/02/2017", "PDI-2017-0001", "Asso", "12345678900012", "Avance", "10,00"]


@pytest.mark.parametrize(
    ("index", "value", "column", "fragment"),
    [
        (7, "dix euros", "Montant", "illisible"),
        (7, "", "Montant", "manquant"),
        (2, "31/02/2017", "Date d'émission", "inexistante"),
        (2, "hier", "Date d'émission", "illisible"),
        (3, "PDI-17-1", "N° convention", "invalide"),
        (3, "", "N° convention", "manquant"),
        (1, "  ", "N° mandat", "manquant"),
        (0, "2016", "Exercice", "différent"),
        (0, "deux mille", "Exercice", "illisible"),
        (6, "Remboursement", "Nature", "inconnue"),
    ],
)
def test_row_level_rejections(tmp_path, index, value, column, fragment):
    bad = list(GOOD)
    bad[index] = value
    bad[1] = bad[1] if index == 1 else "M2"
    path = write(
        tmp_path, [HEADER, ";".join(GOOD), ";".join(bad), ";".join(["2017", "M3"] + GOOD[2:])]
    )
    r = parse(path)
    assert not r.file_rejected
    assert len(r.rejets) == 1
    rej = r.rejets[0]
    assert (rej.sheet, rej.row_number, rej.column_name) == (None, 3, column)
    assert fragment in rej.reason, rej.reason
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)


def test_duplicate_mandat_second_rejected(tmp_path):
    path = write(tmp_path, [HEADER, ";".join(GOOD), ";".join(GOOD[:7] + ["99,00"])])
    r = parse(path)
    assert [m["montant"] for m in r.rows] == [Decimal("10.00")]
    assert r.rejets[0].row_number == 3 and "double" in r.rejets[0].reason
    assert r.rejets[0].column_name == "N° mandat"


def test_quoted_fields_and_line_numbers(tmp_path):
    path = write(
        tmp_path,
        [
            HEADER,
            '2017;M1;15/02/2017;PDI-2017-0001;"Asso; ""Le Pont""\r\nsite 2";12345678900012;'
            'Avance;"1 000,00"',
            "2017;M2;15/02/2017;PDI-2017-0001;Asso;;Avance;bad",
        ],
    )
    r = parse(path)
    assert r.rows[0]["tiers"] == 'Asso; "Le Pont"\r\nsite 2'
    assert r.rows[0]["source_row"] == 2
    assert r.rejets[0].row_number == 4  # the quoted field spanned lines 2-3


def test_a_delimiter_in_an_unquoted_payee_is_said_so(tmp_path):
    """'HORIZONS; ASSO' unquoted shifts every column after the payee: the line was refused
    for its 'Nature' (holding the SIRET), a misleading reason (cold on-call review). It is
    refused for its number of fields, its mandate kept on record, its amount not guessed; a
    line with only trailing empty fields is read as usual."""
    path = write(tmp_path, [
        HEADER,
        "2017;M1;15/02/2017;PDI-2017-0001;HORIZONS; ASSO;12345678900012;Avance;1 000,00",
        "2017;M2;15/02/2017;PDI-2017-0001;HORIZONS;12345678900012;Avance;2 000,00;;",
    ])
    r = parse(path)
    [rj] = r.rejets
    assert (rj.row_number, rj.column_name, rj.montant, rj.num_mandat) == (2, None, None, "M1")
    assert rj.reason == ("ligne de 9 champs pour 8 colonnes d'en-tête : un « ; » dans une "
                         "valeur non entre guillemets (le tiers ?) décale les colonnes")
    assert [m["num_mandat"] for m in r.rows] == ["M2"]
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 1, 1)


def _line(n, tiers, montant="1 000,00"):
    return f"2017;M{n};15/02/2017;PDI-2017-000{n};{tiers};12345678900012;Avance;{montant}"


def test_an_unclosed_quote_does_not_swallow_the_next_lines(tmp_path):
    """A payee whose closing quote was cut opened a quoted field that ran to the next quote,
    three lines below: one record with line 2's mandate and line 5's amount, lines 3-4 lost."""
    path = write(tmp_path, [
        HEADER,
        _line(1, '"ASSOCIATION DES JARDINS PARTAGES', "10,00"),
        _line(2, "Régie", "20,00"),
        _line(3, "Asso", "30,00"),
        _line(4, '"LE PONT" ASSO', "40,00"),
        _line(5, "Asso", "50,00"),
    ])
    r = parse(path)
    assert r.rejets == []
    assert [(m["num_mandat"], m["montant"], m["source_row"]) for m in r.rows] == [
        (f"M{n}", Decimal(f"{n}0.00"), n + 1) for n in range(1, 6)]
    assert r.rows[0]["tiers"] == '"ASSOCIATION DES JARDINS PARTAGES'
    assert r.rows[3]["tiers"] == "LE PONT ASSO"


def test_a_quote_left_open_to_the_end_of_the_file(tmp_path):
    path = write(tmp_path, [HEADER, _line(1, '"Asso', "10,00"),
                            *(_line(n, "Asso", f"{n}0,00") for n in range(2, 6))])
    r = parse(path)
    assert r.rejets == [] and [m["source_row"] for m in r.rows] == [2, 3, 4, 5, 6]
    assert sum(m["montant"] for m in r.rows) == Decimal("150.00")


def test_an_unclosed_quote_that_cannot_be_read_refuses_its_line_only(tmp_path):
    """Read without quoting, the line has one field too many: its columns could be shifted
    (a SIRET read as an amount), so it is refused with its number, the others loaded."""
    path = write(tmp_path, [HEADER, _line(1, '"Asso; Le Pont', "10,00"),
                            _line(2, "Asso", "20,00"), _line(3, "Asso", "30,00")])
    r = parse(path)
    assert [m["source_row"] for m in r.rows] == [3, 4]
    assert [(j.row_number, j.montant) for j in r.rejets] == [(2, None)]
    assert "guillemet" in r.rejets[0].reason
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 2, 1)


def test_punctuation_inside_header_labels_is_ignored(tmp_path):
    header = HEADER.replace("SIRET", "S.I.R.E.T.").replace("N° mandat", "N°mandat")
    r = parse(write(tmp_path, [header, _line(1, "Asso")]))
    assert not r.file_rejected and r.rows[0]["siret"] == "12345678900012"


def test_quote_edge_cases(tmp_path):
    """Found by a review: a blank line before the header, a 'sep=;' hint (2 fields: not the
    record width), an unclosed quote on the last line, a trailing delimiter, every field quoted."""
    lines = [_line(1, '"Asso', "10,00"), _line(2, "Asso", "20,00") + ";",
             '"2017";"M3";"15/02/2017";"PDI-2017-0003";"Asso ""X";"12345678900012";"Avance";'
             '"30,00"',
             '"2017";"M6";"15/02/2017";"PDI-2017-0006";"Asso;"12345678900012";"Avance";"60,00"']
    quoted = '"2017";"M4";"15/02/2017";"PDI-2017-0004";"Asso;\r\nsite";"12345678900012";' \
             '"Avance";"40,00"'
    for head in ([""], ["sep=;"], ["sep=;", ""]):
        r = parse(write(tmp_path, [*head, HEADER, quoted, *lines, _line(5, '"Asso', "50,00")]))
        assert not r.file_rejected and r.rejets == [], (head, r.rejets)
        assert [m["num_mandat"] for m in r.rows] == ["M4", "M1", "M2", "M3", "M6", "M5"], head
        assert r.rows[0]["tiers"] == "Asso;\r\nsite" and r.rows[3]["tiers"] == 'Asso "X'
        assert r.rows[4]["tiers"] == '"Asso' and r.rows[4]["montant"] == Decimal("60.00")
        assert r.rows[-1]["source_row"] == len(head) + 8


def test_an_excel_separator_hint_line_is_skipped(tmp_path):
    r = parse(write(tmp_path, ["sep=;", HEADER, _line(1, "Asso")]))
    assert not r.file_rejected and r.rejets == []
    assert [m["source_row"] for m in r.rows] == [3]


@pytest.mark.parametrize(
    ("content", "fragment", "rows"),
    [
        (b"", "vide", 0),
        (b"\r\n\r\n", "vide", 0),
        (b"PK\x03\x04\x00\x00binary", "pas un export CSV", 0),
        (b"\x00\x01\x02\x03", "pas un export CSV", 0),
        (
            (
                HEADER.replace(";Montant", "")
                + "\r\n2017;M1;15/02/2017;PDI-2017-0001;A;1;Avance\r\n"
                "2017;M2;15/02/2017;PDI-2017-0001;A;1;Avance\r\n"
            ).encode("cp1252"),
            "« Montant »",
            2,
        ),
        (b"a;b;c\r\n1;2;3\r\n", "introuvables", 1),
    ],
)
def test_file_level_rejections(tmp_path, content, fragment, rows):
    path = tmp_path / "mandats_2017.csv"
    path.write_bytes(content)
    r = parse(path)
    assert r.file_rejected and r.rows == []
    assert len(r.rejets) == 1 and r.rejets[0].row_number is None
    assert fragment in r.rejets[0].reason, r.rejets[0].reason
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (rows, 0, rows)


def test_missing_file_is_rejected_not_raised(tmp_path):
    r = parse(tmp_path / "absent.csv")
    assert r.file_rejected


def test_two_columns_for_one_field_the_contracts_label_counts(tmp_path):
    """'Année' beside 'Exercice', a 'Type' column beside 'Nature': the column the contract names
    is read, the other is an extra column (the first was read: a payment refused as of another
    exercise, every line refused 'Nature inconnue'; probe review)."""
    path = write(tmp_path, [
        "Année;Exercice;N° mandat;Date d'émission;N° convention;Tiers;SIRET;Type;Nature;Montant",
        "2018;2017;M1;15/01/2017;PDI-2017-0001;Asso;12345678900012;Mandat;Solde;500,00",
    ])
    r = parse(path)
    assert not r.file_rejected and r.rejets == []
    [m] = r.rows
    assert (m["exercice"], m["nature"], m["montant"]) == (2017, "Solde", Decimal("500.00"))


def test_two_columns_for_one_field_neither_the_contracts_is_refused(tmp_path):
    path = write(tmp_path, [
        "Année;Exercice budgétaire;N° mandat;Date d'émission;N° convention;Tiers;SIRET;Nature;"
        "Montant",
        "2018;2017;M1;15/01/2017;PDI-2017-0001;Asso;12345678900012;Solde;500,00",
    ])
    r = parse(path)
    assert r.file_rejected and (r.rows_read, r.rows_rejected) == (1, 1)
    [rej] = r.rejets
    assert rej.reason.startswith("plusieurs colonnes pour « Exercice » (« Année » et "
                                 "« Exercice budgétaire »)"), rej.reason
