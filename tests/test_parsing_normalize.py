"""Unit tests of dagster_project.parsing.normalize and nomenclature."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest

from dagster_project.parsing import (
    ValeurInvalide,
    convention_in_name,
    hash_identifiant,
    load_nomenclature,
    normalize_label,
    parse_date,
    parse_french_amount,
    parse_french_decimal,
    parse_identifiant,
    parse_num_convention,
    parse_oui_non,
    parse_siret,
    parse_whole_number,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("N° CONVENTION :", "n convention"),
        ("n° convention", "n convention"),
        ("  N°   convention  ", "n convention"),
        ("Intitulé de l'action", "intitule de l action"),
        ("INTITULE DE L’ACTION", "intitule de l action"),
        ("Date d'entrée", "date d entree"),
        ("Problèmes de mobilité résolus", "problemes de mobilite resolus"),
        ("ETP\u00a0mobilisés", "etp mobilises"),
        ("Lieux d'accès multimédia coordonnés", "lieux d acces multimedia coordonnes"),
        ("Œuvre_Straße", "œuvre strasse"),
        ("", ""),
        ("---", ""),
    ],
)
def test_normalize_label(raw, expected):
    assert normalize_label(raw) == expected
    assert normalize_label(normalize_label(raw)) == normalize_label(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2,5", 2.5),
        ("2.5", 2.5),
        (" 2,50 ", 2.5),
        ("1 234,5", 1234.5),
        ("1\u00a0234,5", 1234.5),
        ("1\u202f234,5", 1234.5),
        ("1.234,5", 1234.5),
        ("1,234.5", 1234.5),
        ("-0,5", -0.5),
        ("3", 3.0),
        (2.5, 2.5),
        (3, 3.0),
    ],
)
def test_parse_french_decimal(raw, expected):
    assert parse_french_decimal(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "  ", "abc", "2,5,1", "1..2", True, None, dt.date(2017, 1, 1), float("nan"), float("inf")],
)
def test_parse_french_decimal_rejects(raw):
    with pytest.raises(ValeurInvalide):
        parse_french_decimal(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12 345,67", Decimal("12345.67")),
        ("12\u00a0345,67", Decimal("12345.67")),
        ("-1 234,00", Decimal("-1234.00")),
        ("\u22121 234,00", Decimal("-1234.00")),
        ("1234", Decimal("1234.00")),
        ("0,5", Decimal("0.50")),
        ("1 000,00 €", Decimal("1000.00")),
        (12.5, Decimal("12.50")),
        (-3, Decimal("-3.00")),
    ],
)
def test_parse_french_amount(raw, expected):
    got = parse_french_amount(raw)
    assert got == expected
    assert got.as_tuple().exponent == -2


@pytest.mark.parametrize("raw", ["", "12,345", "douze", "1 2 3,4,5", None, True])
def test_parse_french_amount_rejects(raw):
    with pytest.raises(ValeurInvalide):
        parse_french_amount(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (dt.date(2017, 3, 4), dt.date(2017, 3, 4)),
        (dt.datetime(2017, 3, 4, 10, 30), dt.date(2017, 3, 4)),
        ("04/03/2017", dt.date(2017, 3, 4)),
        ("4/3/2017", dt.date(2017, 3, 4)),
        (" 4/03/2017 ", dt.date(2017, 3, 4)),
        ("04.03.2017", dt.date(2017, 3, 4)),
        ("2017-03-04", dt.date(2017, 3, 4)),
        ("2017-03-04T00:00:00", dt.date(2017, 3, 4)),
        ("04/03/2017 00:00:00", dt.date(2017, 3, 4)),
        ("04/03/2017 09h30", dt.date(2017, 3, 4)),
        ("2017-03-04 09:30:15.250", dt.date(2017, 3, 4)),
        ("04/03/2017 10h", dt.date(2017, 3, 4)),
        ("2017-03-04T09:30:00Z", dt.date(2017, 3, 4)),
        ("2017-03-04T09:30:00+01:00", dt.date(2017, 3, 4)),
        (42798.0, dt.date(2017, 3, 4)),  # Excel serial
        (42798, dt.date(2017, 3, 4)),
    ],
)
def test_parse_date(raw, expected):
    got = parse_date(raw)
    assert got == expected and type(got) is dt.date


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "31/02/2017",
        "2017/13/01",
        "04/03/17",
        "demain",
        -5.0,
        True,
        None,
        dt.time(10, 0),
        "01/01/1850",
        "04/03/2017 au 05/06/2018",  # a period, not a date (was read as its first day)
        "2017-03-04 puis 2017-06-05",
    ],
)
def test_parse_date_rejects(raw):
    with pytest.raises(ValeurInvalide):
        parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345678900012", "12345678900012"),
        ("123 456 789 00012", "12345678900012"),
        ("123\u00a0456\u00a0789\u00a000012", "12345678900012"),
        ("123.456.789.00012", "12345678900012"),
        (12345678900012.0, "12345678900012"),
        (1234567890001.0, "01234567890001"),
    ],
)
def test_parse_siret(raw, expected):
    assert parse_siret(raw) == expected


@pytest.mark.parametrize("raw", ["", "1234", "1234567890001X", "123456789000123", 12.5, None, True])
def test_parse_siret_rejects(raw):
    with pytest.raises(ValeurInvalide):
        parse_siret(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Oui", True),
        ("OUI", True),
        (" oui ", True),
        ("o", True),
        ("Yes", True),
        ("true", True),
        ("1", True),
        (1.0, True),
        (True, True),
        ("Non", False),
        ("NON", False),
        ("n", False),
        ("No", False),
        ("FALSE", False),
        ("0", False),
        (0, False),
        (False, False),
        ("", None),
        ("   ", None),
        (None, None),
        ("Vrai", True),
        ("faux", False),
    ],
)
def test_parse_oui_non(raw, expected):
    assert parse_oui_non(raw) is expected


@pytest.mark.parametrize("raw", ["peut-être", "2", 2.0, dt.date(2017, 1, 1), "-"])
def test_parse_oui_non_rejects(raw):
    with pytest.raises(ValeurInvalide):
        parse_oui_non(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", 12), (12.0, 12), ("1 234", 1234), ("3,0", 3), ("12,00", 12), (0, 0)],
)
def test_parse_whole_number(raw, expected):
    assert parse_whole_number(raw) == expected


@pytest.mark.parametrize(
    # '12.000' and '1.500': thousands or decimals? refused ('12.000' was read as 12); the same
    # with a comma ('12,000' was read as 12: probe review)
    "raw", ["", "2,5", -1, "-3", "douze", 1.5, None, "12.000", " 1.500 ", "1.234.000",
            "12,000", "1,000", "1,234,000"],
)
def test_parse_whole_number_rejects(raw):
    with pytest.raises(ValeurInvalide):
        parse_whole_number(raw)


@pytest.mark.parametrize("raw", ["12.000", "12,000"])
def test_whole_number_with_three_digits_after_a_separator_says_why(raw):
    with pytest.raises(ValeurInvalide, match="ambigu"):
        parse_whole_number(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AB123", "AB123"),
        (1234567.0, "1234567"),
        (1234567, "1234567"),
        # one spelling per person: a number cell drops the zeros a text cell keeps, spaces
        # (no-break ones from a copy) and case vary between operators (they were two people)
        (" 00123 ", "123"),
        ("0001234567", "1234567"),
        ("1 234 567", "1234567"),
        ("1\u00a0234\u202f567", "1234567"),
        ("ab 12", "AB12"),
        ("A0012", "A0012"),  # not only digits: its zeros are part of it
        ("000", "0"),
        # a number cell's reading pasted as text (a CSV export of another tool): one person
        ("1234567.0", "1234567"),
        ("01234567,00", "1234567"),
        ("1234567.5", "1234567.5"),  # not a whole number: kept as typed
        ("12.0A", "12.0A"),
        ("\u0661\u0662", "\u0661\u0662"),  # non-ASCII digits: kept as typed
        ("é\u00df1", "é\u00df1"),  # only ASCII letters change case ('ß'.upper() is 'SS')
        ("ab\u00e91", "AB\u00e91"),
    ],
)
def test_parse_identifiant(raw, expected):
    assert parse_identifiant(raw) == expected
    # the rejections' pseudonym is the one of the canonical identifier
    digest = hashlib.sha256(expected.encode("utf-8")).hexdigest()[:12]
    assert hash_identifiant(raw) == "sha256:" + digest


@pytest.mark.parametrize("raw", ["", "  ", None, True, dt.date(2017, 1, 1)])
def test_parse_identifiant_rejects(raw):
    with pytest.raises(ValeurInvalide) as exc:
        parse_identifiant(raw)
    assert isinstance(exc.value, ValueError)


def test_error_messages_never_quote_the_value():
    secret = "SECRET-ID-98765"
    for fn in (
        parse_date,
        parse_french_decimal,
        parse_french_amount,
        parse_siret,
        parse_oui_non,
        parse_whole_number,
        parse_num_convention,
    ):
        with pytest.raises(ValeurInvalide) as exc:
            fn(secret)
        assert secret not in str(exc.value)


def test_hash_identifiant():
    h = hash_identifiant("AB123")
    assert h.startswith("sha256:") and len(h) == len("sha256:") + 12 and "AB123" not in h
    assert hash_identifiant(123.0) == hash_identifiant("123")
    assert hash_identifiant("") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PDI-2017-0001", ("PDI-2017-0001", 2017)),
        ("pdi-2017-0042", ("PDI-2017-0042", 2017)),
        (" PDI 2017 12345 ", ("PDI-2017-12345", 2017)),
        ("PDI_2018_0001", ("PDI-2018-0001", 2018)),
    ],
)
def test_parse_num_convention(raw, expected):
    assert parse_num_convention(raw) == expected


@pytest.mark.parametrize("raw", ["PDI-2017-001", "XYZ-2017-0001", "PDI-17-0001", "", 12.0])
def test_parse_num_convention_rejects(raw):
    with pytest.raises(ValeurInvalide):
        parse_num_convention(raw)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Association Entraide bilan PDI-2019-0138 v2.xlsx", ("PDI-2019-0138", 2019)),
        ("bilan_pdi_2017_0042.ods", ("PDI-2017-0042", 2017)),
        ("ACI Archipel - bilan 2017 définitif.xlsx", None),
        ("PDI-17-0001.xlsx", None),
        # the Département's own short form (bilan_generator/layout.py): a cold review's
        # truncated copy of such a file was not recognised
        ("PDI2019_4_scop_declic v2.xlsx", ("PDI-2019-0004", 2019)),
        ("PDI2019_138_entraide.xlsx", ("PDI-2019-0138", 2019)),
        ("PDI2019 v2.xlsx", None),
        ("PDI2019_12345.xlsx", ("PDI-2019-12345", 2019)),
    ],
)
def test_convention_in_name(name, expected):
    assert convention_in_name(name) == expected


def test_nomenclature_loaded_from_seeds():
    nomen = load_nomenclature()
    assert nomen is load_nomenclature()  # cached
    ru = nomen.thematique("ru")
    assert ru.code == "RU" and ru.nature == "contractualisation"
    assert nomen.thematique("SOC-NUM").indicateurs_specifiques == (
        "lieux_acces_multimedia",
        "certifications_delivrees",
    )
    assert nomen.thematique("PRO-PART").nature == "partenariat"
    assert nomen.thematique("PRO-EMP-AME").code_type_action == "PRO"
    assert nomen.thematique("NOPE") is None
    assert nomen.code_motif("id-emploi") == "ID-EMPLOI"
    assert nomen.code_motif("DEMENAGEMENT") == "AM-DEMENAGEMENT"
    assert nomen.code_motif("contrat de travail de moins d’un mi-temps") == "MP-TEMPS-PARTIEL"
    assert nomen.code_motif("Ouverture de droit CMU, CMU-C, ACS") == "DP-DROITS-SANTE"
    assert nomen.code_motif("inconnu") is None
