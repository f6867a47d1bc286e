"""Tests of parse_workbook on crafted .xlsx (xlsxwriter) and .ods (odfpy) workbooks."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile

import pytest
from fixtures_parsing import (
    CER_HEADER,
    FORMATS,
    PARTICIPANT_HEADER,
    action_rows,
    check_invariants,
    write_workbook,
)

from dagster_project.parsing import ACTION_COLUMNS, CER_COLUMNS, PARTICIPANT_COLUMNS, parse_workbook
from dagster_project.parsing.normalize import hash_identifiant

D = dt.date


@pytest.fixture(params=FORMATS)
def fmt(request):
    return request.param


def build(tmp_path, fmt, sheets, name="bilan"):
    return write_workbook(tmp_path / f"{name}.{fmt}", sheets)


def parse(path, *, exercice=2017, idents=()):
    result = parse_workbook(path, exercice=exercice)
    check_invariants(result, idents)
    for row in result.participants:
        assert tuple(row) == PARTICIPANT_COLUMNS
    for row in result.cer:
        assert tuple(row) == CER_COLUMNS
    if result.action is not None:
        assert tuple(result.action) == ACTION_COLUMNS
    return result


def participants(*rows, title=True):
    head = [["Participants de l'action"], []] if title else []
    return head + [PARTICIPANT_HEADER] + [list(r) for r in rows]


def only_rejet(result):
    assert len(result.rejets) == 1, result.rejets
    return result.rejets[0]


# ------------------------------------------------------------------ nominal + tolerance
def test_nominal_accompagnement(tmp_path, fmt):
    path = build(
        tmp_path,
        fmt,
        {
            "Action": action_rows(),
            "Participants": participants(
                ["P001", D(2017, 1, 5), None, None, "Oui"],
                ["P002", D(2017, 2, 1), D(2017, 5, 1), "ID-EMPLOI", "Non"],
            ),
        },
    )
    r = parse(path)
    assert not r.file_rejected
    assert r.num_convention == "PDI-2017-0001"
    a = r.action
    assert a["exercice"] == 2017 and a["siret"] == "12345678900012" and a["etp"] == 2.5
    assert a["code_thematique"] == "PRO-EMP-AME" and a["date_debut"] == D(2017, 1, 1)
    assert a["source_sheet"] == "Action" and a["source_row"] == 3
    assert a["nb_referents"] is None and a["accueils_individuels"] is None
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 3, 0)
    p1, p2 = r.participants
    assert p1 == {
        "exercice": 2017,
        "num_convention": "PDI-2017-0001",
        "identifiant": "P001",
        "date_entree": D(2017, 1, 5),
        "date_sortie": None,
        "motif_sortie_brut": None,
        "code_motif": None,
        "mise_en_parcours_en_cours": True,
        "source_sheet": "Participants",
        "source_row": 4,
    }
    assert p2["code_motif"] == "ID-EMPLOI" and p2["source_row"] == 5
    assert p2["mise_en_parcours_en_cours"] is False


def test_action_label_variants_layout_and_values(tmp_path, fmt):
    action = [
        ["", "BILAN D'ACTION PDI — exercice 2017"],
        [],
        [None, "Renseignements", None, "à compléter"],
        [None, "  n° CONVENTION :", "pdi-2017-0042"],  # label in B, value in C, lower case
        [None, "Date de fin", None, "31/12/2017"],  # value two cells to the right, text date
        [None, "INTITULE DE L ACTION", "Ateliers"],
        [],
        [None, "SIRET", "123\u00a0456 789 00012"],
        [None, "Opérateur", "Asso", None, "Code thématique", "soc-num"],  # two pairs on a row
        [None, "Date de début :", D(2017, 1, 1)],
        [None, "ETP mobilisés", "0,75"],
        [None, "Lieux d'accès multimédia coordonnés", 4.0],
        [None, "Certifications et attestations délivrées", "12"],
        [None, "Accueils individuels", 99],  # not an indicator of SOC-NUM: ignored
    ]
    path = build(
        tmp_path,
        fmt,
        {
            "Participants": participants(["X1", D(2017, 2, 1), None, None, None]),
            "ACTION ": action,
        },
    )
    r = parse(path)
    assert not r.file_rejected, r.rejets
    a = r.action
    assert a["num_convention"] == "PDI-2017-0042" and a["source_row"] == 4
    assert a["source_sheet"] == "ACTION "
    assert a["operateur"] == "Asso" and a["intitule"] == "Ateliers"
    assert a["code_thematique"] == "SOC-NUM" and a["siret"] == "12345678900012"
    assert a["date_fin"] == D(2017, 12, 31) and a["etp"] == 0.75
    assert a["lieux_acces_multimedia"] == 4 and a["certifications_delivrees"] == 12
    assert a["accueils_individuels"] is None


def test_numeric_siret_and_etp_cells(tmp_path, fmt):
    path = build(
        tmp_path,
        fmt,
        {
            "Action": action_rows({"SIRET": 12345678900012, "ETP mobilisés": 3}),
            "Participants": participants(),
        },
    )
    r = parse(path)
    assert r.action["siret"] == "12345678900012" and r.action["etp"] == 3.0
    assert (r.rows_read, r.rows_loaded) == (1, 1)


def test_participants_tolerance(tmp_path, fmt):
    header = [
        "Commune",
        "Motif de sortie",
        "N°",
        "DATE D'ENTREE",
        "identifiant",
        "Sexe",
        "Mise en parcours",
        "Date de sortie (JJ/MM/AAAA)",
    ]
    rows = [
        ["Bilan 2017"],  # 1 title
        ["Structure : Asso"],  # 2 title
        [],  # 3
        header,  # 4
        ["Rennes", None, 1, D(2017, 1, 2), 1234567.0, "F", "oui", None],  # 5 numeric id
        [],  # 6 blank
        [
            "Brest",
            "contrat de travail de moins d'un mi-temps",
            2,
            "3/2/2017",
            "AB 01",
            "H",
            " NON ",
            "15/06/2017",
        ],  # 7 motif by label
        ["Vitré", "DÉMÉNAGEMENT", 3, "2017-02-03", "AB02", "F", None, D(2017, 9, 1)],  # 8
        ["Vitré", "id-creation", 4, D(2017, 3, 3), "AB03", "F", None, D(2017, 9, 1)],  # 9
        [None, None, None, None, None, None, None, None],  # 10 blank
        ["TOTAL :", None, None, 4],  # 11 total
        [None, None, None, None, "Données arrêtées au 31/12/2017"],  # 12 note
    ]
    path = build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows})
    r = parse(path, idents=("1234567", "AB 01", "AB01", "AB02", "AB03"))
    assert not r.rejets
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (5, 5, 0)
    got = {p["identifiant"]: p for p in r.participants}  # 'AB 01' read as 'AB01'
    assert [p["source_row"] for p in r.participants] == [5, 7, 8, 9]
    assert got["1234567"]["mise_en_parcours_en_cours"] is True
    assert got["AB01"]["code_motif"] == "MP-TEMPS-PARTIEL"
    assert got["AB01"]["motif_sortie_brut"] == "contrat de travail de moins d'un mi-temps"
    assert got["AB01"]["date_entree"] == D(2017, 2, 3) and got["AB01"]["date_sortie"] == D(
        2017, 6, 15
    )
    assert got["AB01"]["mise_en_parcours_en_cours"] is False
    assert got["AB02"]["code_motif"] == "AM-DEMENAGEMENT" and got["AB02"]["date_entree"] == D(
        2017, 2, 3
    )
    assert (
        got["AB03"]["code_motif"] == "ID-CREATION"
        and got["AB03"]["motif_sortie_brut"] == "id-creation"
    )


def test_row_numbers_when_used_range_does_not_start_at_a1(tmp_path, fmt):
    pad = [None, None, None]
    rows = [
        [],
        [],
        [],
        [],
        [],
        [],
        pad + PARTICIPANT_HEADER,  # header on row 7, col D
        pad + ["Z1", D(2017, 1, 1), None, None, None],  # row 8
        [],  # row 9
        pad + ["Z2", D(2017, 1, 1), "01/01/2016", "AM-DECES", None],
    ]  # row 10: rejected
    path = build(
        tmp_path,
        fmt,
        {"Action": [[], [], *[[None, None] + r for r in action_rows()]], "Participants": rows},
    )
    r = parse(path, idents=("Z1", "Z2"))
    assert r.action["source_row"] == 5
    assert [p["source_row"] for p in r.participants] == [8]
    rej = only_rejet(r)
    assert (rej.sheet, rej.row_number, rej.column_name) == ("Participants", 10, "Date de sortie")


def test_ods_named_xlsx_is_read_by_content(tmp_path):
    ods = build(tmp_path, "ods", {"Action": action_rows(), "Participants": participants()})
    renamed = tmp_path / "renamed.xlsx"
    shutil.copy(ods, renamed)
    r = parse(renamed)
    assert not r.file_rejected and r.num_convention == "PDI-2017-0001"


def test_punctuation_inside_labels_is_ignored(tmp_path, fmt):
    """The contract matches labels ignoring punctuation: 'E.T.P.' is 'ETP', a lost apostrophe
    changes nothing; read as a space, it made the label unknown and refused the workbook."""
    renamed = {"ETP mobilisés": "E.T.P. mobilisés", "SIRET": "S.I.R.E.T.",
               "Intitulé de l'action": "Intitulé de laction"}
    rows = [[renamed.get(row[0], row[0]), *row[1:]] if row else row for row in action_rows()]
    header = ["Identifiant", "Date dentrée", "Date de sortie", "Motif de sortie",
              "Mise en parcours en cours"]
    r = parse(build(tmp_path, fmt, {
        "Action": rows,
        "Liste des participants": [header, ["P1", D(2017, 1, 5), None, None, "Oui"]],
    }), idents=("P1",))
    assert not r.file_rejected, r.rejets
    assert r.action["etp"] == 2.5 and r.action["siret"] == "12345678900012"
    assert r.action["intitule"] == "Accompagnement vers l'emploi"
    assert [p["date_entree"] for p in r.participants] == [D(2017, 1, 5)]


def test_partnership_action_ignores_other_sheets(tmp_path, fmt):
    path = build(
        tmp_path,
        fmt,
        {
            "Action": action_rows({"Code thématique": "PRO-PART"}),
            "Participants": participants(["P1", "garbage", None, None, None]),
            "Notes": [["anything"]],
        },
    )
    r = parse(path)
    assert not r.file_rejected and r.participants == [] and r.rejets == []
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (1, 1, 0)
    # not read, but on the file's record: a partnership code on an accompaniment loses them
    assert r.detail == ("feuille « Participants » non lue (1 ligne de participants) : une "
                        "action PRO-PART n'a pas de feuille Participants")


def test_an_unused_sheet_without_rows_is_not_mentioned(tmp_path, fmt):
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": participants(),
                                    "CER": [CER_HEADER]}))
    assert not r.file_rejected and r.detail is None


def test_a_table_in_a_sheet_the_kit_does_not_name_is_not_read_but_said(tmp_path, fmt):
    """'Participants (2)' (Excel's copy of a sheet), 'Copie de Participants' (Google's) beside
    the kit's 'Participants': an operator may have split the list over them. Only the kit's
    sheet counts (a copy may as well be last year's list); the other tables' rows go on the
    file's record instead of nowhere, a copy whose header names a column otherwise too. Sheets
    whose name speaks of no participant or CER are not looked into (a stray cell far down a
    'Notes' sheet would have it read whole): a renamed 'Feuil2' copy goes unmentioned (a known
    limit), and so does a sheet with no table (instructions, a header alone)."""
    rows = [["P1", D(2017, 1, 5), None, None, "Oui"]]
    other_header = ["Identifiant", "Entrée le", "Date de sortie", "Motif de sortie"]
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows(),
        "Participants": participants(*rows),
        "Participants (2)": participants(["P2", D(2017, 2, 5), None, None, "Non"],
                                         ["P3", D(2017, 2, 6), None, None, "Non"]),
        "Copie de Participants": [other_header, ["P4", D(2017, 2, 5), None, None]],
        "CER (2)": [CER_HEADER, ["C1", D(2017, 3, 1), "Oui"]],
        "Feuil2": participants(["P5", D(2017, 2, 5), None, None, "Non"], title=False),
        "Participants - notice": [["Remplir une ligne par personne accompagnée."],
                                  ["Dates au format JJ/MM/AAAA."]],
        "Participants (3)": participants(),  # a header alone: nothing to say
    }), idents=("P1",))
    assert not r.file_rejected and len(r.participants) == 1
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0)
    assert r.detail.split("; ") == [
        "feuille « Participants (2) » non lue (2 lignes de participants) : seule la feuille "
        "« Participants » est lue",
        "feuille « Copie de Participants » non lue (1 ligne de participants) : seule la feuille "
        "« Participants » est lue",
        "feuille « CER (2) » non lue (1 ligne de CER) : une action PRO-EMP-AME n'a pas de "
        "feuille CER",
    ]


def test_a_table_of_the_other_kind_under_a_kit_name_is_found(tmp_path, fmt):
    """Participants typed in the sheet named CER of an accompaniment action (its Participants
    sheet empty), or CER rows in a 'Suivi des participants' sheet that holds both tables: the
    action would count no one. The file is refused, naming the sheet."""
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows(), "Participants": participants(),
        "CER": participants(["P2", D(2017, 2, 5), None, None, "Non"]),
    }, name="cer"))
    assert assert_file_rejected(r, "feuille « Participants » vide", rows=2).reason.startswith(
        "feuille « Participants » vide ; la feuille « CER » (1 ligne) contient un tableau de "
        "participants")
    both = [PARTICIPANT_HEADER[:2] + CER_HEADER[1:]] + [
        [f"C{i}", D(2017, 2, i), D(2017, 3, i), "Oui"] for i in (1, 2, 3)]
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows({"Code thématique": "RU", "Nombre de référents": "2"}),
        "CER": [CER_HEADER], "Suivi des participants": both,
    }, name="suivi"))
    assert assert_file_rejected(r, "feuille « CER » vide", rows=4).reason.startswith(
        "feuille « CER » vide ; la feuille « Suivi des participants » (3 lignes) contient un "
        "tableau de CER")


def test_a_hidden_sheet_is_said_but_never_refuses_the_file(tmp_path):
    """A hidden 'Participants exemple' sheet (an example row the operator does not see) beside
    an action's legitimately empty Participants: loaded (no one yet), the hidden table said."""
    import xlsxwriter

    path = tmp_path / "cache.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    for name, rows in {"Action": action_rows(), "Participants": participants(),
                       "Participants exemple": participants(["EX1", "05/01/2017", None, None,
                                                             "Non"])}.items():
        ws = wb.add_worksheet(name)
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if v is not None:
                    ws.write(i, j, v)
        if name == "Participants exemple":
            ws.hide()
    wb.close()
    r = parse(path)
    assert not r.file_rejected and r.participants == []
    assert r.detail == ("feuille « Participants exemple » (masquée) non lue (1 ligne de "
                        "participants) : seule la feuille « Participants » est lue")


def test_a_missing_kit_sheet_names_the_sheets_holding_its_table(tmp_path, fmt):
    """Only 'Participants (2)': the file is refused as before (no Participants sheet), and the
    reason says which sheet to rename, if it holds this exercise's rows; two such sheets, to be
    brought together. Their rows are refused with the file's (the file's rows are conserved)."""
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows(),
        "Participants (2)": participants(["P2", D(2017, 2, 5), None, None, "Non"]),
    }, name="one"))
    assert assert_file_rejected(r, "feuille Participants introuvable", rows=2).reason.endswith(
        " ; la feuille « Participants (2) » (1 ligne) contient un tableau de participants, non lu "
        "sous ce nom : s'il s'agit de ceux de l'exercice, la renommer « Participants », sinon la "
        "retirer du classeur")
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows({"Code thématique": "RU", "Nombre de référents": "2"}),
        "CER 1": [CER_HEADER, ["C1", D(2017, 3, 1), "Oui"], ["C2", D(2017, 3, 2), "Non"]],
        "CER 2": [CER_HEADER, ["C3", D(2017, 3, 1), "Oui"]],
    }, name="two"))
    assert assert_file_rejected(r, "feuille CER introuvable", rows=4).reason.endswith(
        " ; les feuilles « CER 1 » (2 lignes), « CER 2 » (1 ligne) contiennent des tableaux de "
        "CER, non lus sous ces noms : s'il s'agit de ceux de l'exercice, les réunir en une seule "
        "feuille « CER », sinon les retirer du classeur")


@pytest.mark.parametrize("kind", ["participants", "cer"])
def test_an_empty_kit_sheet_beside_a_filled_copy_refuses_the_file(tmp_path, fmt, kind):
    """The kit's sheet left empty, the rows typed in its copy: loaded, the action counted no one
    (only a warning said why). Refused, as two sheets of the kit's names are, every row of the
    copy counted with the file's."""
    if kind == "participants":
        sheets = {"Action": action_rows(), "Participants": participants(),
                  "Participants (2)": participants(["P2", D(2017, 2, 5), None, None, "Non"],
                                                   ["P3", D(2017, 2, 6), None, None, "Non"])}
    else:
        sheets = {"Action": action_rows({"Code thématique": "RU", "Nombre de référents": "2"}),
                  "CER": [CER_HEADER],
                  "CER suite": [CER_HEADER, ["C1", D(2017, 3, 1), "Oui"],
                                ["C2", D(2017, 3, 2), "Non"]]}
    canon = "Participants" if kind == "participants" else "CER"
    copy = [name for name in sheets if name.startswith(canon) and name != canon][0]
    rej = assert_file_rejected(parse(build(tmp_path, fmt, sheets)), f"feuille « {canon} » vide",
                               rows=3)
    assert rej.reason == (
        f"feuille « {canon} » vide ; la feuille « {copy} » (2 lignes) contient un tableau "
        f"de {'participants' if kind == 'participants' else 'CER'}, non lu sous ce nom : s'il "
        f"s'agit de ceux de l'exercice, la renommer « {canon} », sinon la retirer du classeur")
    assert rej.sheet == canon


def test_ru_action_with_cer(tmp_path, fmt):
    path = build(
        tmp_path,
        fmt,
        {
            "CER": [
                ["Contrats d'engagement réciproque"],
                CER_HEADER,
                ["C1", D(2017, 3, 1), "Oui"],
                ["C2", "01/04/2017", "non"],
                [],
                ["C3", None, "Oui"],  # missing date → rejected
                ["C4", D(2017, 3, 1), "peut-être"],  # unreadable oui/non
                ["C5", D(2017, 3, 1), None],  # accompagnement social required
                [None, D(2017, 3, 1), "Oui"],  # missing identifiant
                ["C1", D(2017, 3, 1), "Oui"],  # duplicate
                ["C6", "32/13/2017", "Oui"],  # unreadable date
                ["Total", 8],
            ],
            "Action": action_rows({"Code thématique": "RU", "Nombre de référents": "12"}),
        },
    )
    r = parse(path, idents=("C1", "C2", "C3", "C4", "C5", "C6"))
    assert not r.file_rejected
    assert r.action["nb_referents"] == 12
    assert [(c["identifiant"], c["date_signature"], c["accompagnement_social"]) for c in r.cer] == [
        ("C1", D(2017, 3, 1), True),
        ("C2", D(2017, 4, 1), False),
    ]
    assert [c["source_row"] for c in r.cer] == [3, 4]
    assert [(j.row_number, j.column_name) for j in r.rejets] == [
        (6, "Date de signature"),
        (7, "Accompagnement social"),
        (8, "Accompagnement social"),
        (9, "Identifiant"),
        (10, "Identifiant"),
        (11, "Date de signature"),
    ]
    assert "double" in r.rejets[4].reason and r.rejets[4].value.startswith("sha256:")
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (9, 3, 6)


def test_identifiers_typed_differently_are_one_person(tmp_path, fmt):
    """The same person typed as a number cell, as zero-padded text, with spaces or in another
    case is one identifier (the marts count distinct people across workbooks): read in one
    spelling, and a repeated row under another spelling is a duplicate."""
    rows = [
        [1234567, D(2017, 1, 1), None, None, None],
        ["0001234567", D(2017, 2, 1), None, None, None],
        ["1 234 567", D(2017, 3, 1), None, None, None],
        ["ab12", D(2017, 1, 1), None, None, None],
        [" AB12 ", D(2017, 1, 1), None, None, None],  # the row above again
    ]
    # typed once more in another spelling, in another column: masked in its refusal too
    rows.append(["P9", D(2017, 1, 1), D(2017, 2, 1), "ab 12", None])
    path = build(tmp_path, fmt, {"Action": action_rows(), "Participants": participants(*rows)})
    r = parse(path, idents=("1234567", "0001234567", "1 234 567", "AB12", "ab12", "ab 12"))
    assert [p["identifiant"] for p in r.participants] == ["1234567"] * 3 + ["AB12"]
    assert [(j.row_number, j.column_name) for j in r.rejets] == [
        (8, "Identifiant"), (9, "Motif de sortie")
    ]
    assert "double" in r.rejets[0].reason
    assert r.rejets[0].value == r.rejets[1].value == hash_identifiant("AB12")

    cer = [CER_HEADER, ["00042", D(2017, 2, 1), "Oui"], [42, D(2017, 3, 1), "Non"]]
    path = build(
        tmp_path,
        fmt,
        {"Action": action_rows({"Code thématique": "RU", "Nombre de référents": 2}), "CER": cer},
        name="ru",
    )
    assert [c["identifiant"] for c in parse(path).cer] == ["42", "42"]


# ------------------------------------------------------------------ row-level rejections
ROW_CASES = [
    # (row, column, reason fragment)
    ([None, D(2017, 1, 1), None, None, None], "Identifiant", "Identifiant manquant"),
    (["R1", None, None, None, "Oui"], "Date d'entrée", "manquante"),
    (["R1", "pas une date", None, None, None], "Date d'entrée", "illisible"),
    (["R1", D(2017, 1, 1), "31/02/2017", "AM-DECES", None], "Date de sortie", "inexistante"),
    (["R1", D(2017, 5, 1), D(2017, 4, 1), "AM-DECES", None], "Date de sortie", "antérieure"),
    (["R1", D(2017, 1, 1), D(2017, 4, 1), None, None], "Motif de sortie", "sans Motif"),
    (["R1", D(2017, 1, 1), D(2017, 4, 1), "Parti en vacances", None], "Motif de sortie", "inconnu"),
    (["R1", D(2017, 1, 1), None, "AM-DECES", None], "Motif de sortie", "sans Date de sortie"),
    (["R1", D(2017, 1, 1), None, None, "Peut-être"], "Mise en parcours en cours", "Oui/Non"),
]


@pytest.mark.parametrize(("bad", "column", "fragment"), ROW_CASES)
def test_row_level_rejections(tmp_path, fmt, bad, column, fragment):
    path = build(
        tmp_path,
        fmt,
        {
            "Action": action_rows(),
            "Participants": participants(
                ["OK1", D(2017, 1, 1), None, None, None],
                bad,
                ["OK2", D(2017, 1, 1), None, None, None],
            ),
        },
    )
    r = parse(path, idents=("OK1", "OK2", "R1"))
    assert not r.file_rejected
    rej = only_rejet(r)
    assert (rej.sheet, rej.row_number, rej.column_name) == ("Participants", 5, column)
    assert fragment in rej.reason
    assert [p["identifiant"] for p in r.participants] == ["OK1", "OK2"]
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 3, 1)


def test_duplicate_participant_row(tmp_path, fmt):
    row = ["DUP1", D(2017, 1, 1), D(2017, 3, 1), "AM-DECES", None]
    same_by_label = ["DUP1", "01/01/2017", D(2017, 3, 1), "décès", None]
    other_entry = ["DUP1", D(2017, 4, 1), None, None, None]  # re-entry: not a duplicate
    path = build(
        tmp_path,
        fmt,
        {"Action": action_rows(), "Participants": participants(row, same_by_label, other_entry)},
    )
    r = parse(path, idents=("DUP1",))
    rej = only_rejet(r)
    assert rej.row_number == 5 and rej.column_name == "Identifiant" and "double" in rej.reason
    assert rej.value.startswith("sha256:") and "DUP1" not in rej.value
    assert len(r.participants) == 2


def test_a_repeated_row_that_says_otherwise_is_told_apart(tmp_path, fmt):
    """A repeat of a counted row (same key) is refused; when it differs in the one column its
    key leaves out (Mise en parcours: Oui against Non or blank; Accompagnement social), the
    reason says so and that the first row is counted: it read as an exact duplicate, and the
    published figure depends on the rows' order (independent recomputation)."""
    rows = [["P1", D(2017, 1, 1), None, None, "Non"], ["P1", D(2017, 1, 1), None, None, None],
            ["P1", D(2017, 1, 1), None, None, "Oui"], ["P2", D(2017, 1, 1), None, None, "Oui"],
            ["P2", D(2017, 1, 1), None, None, "oui"]]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": participants(*rows)}),
              idents=("P1", "P2"))
    assert [(p["identifiant"], p["mise_en_parcours_en_cours"]) for p in r.participants] == [
        ("P1", False), ("P2", True)]
    reasons = {j.row_number: j.reason for j in r.rejets}
    assert set(reasons) == {5, 6, 8}  # the sheet's rows 4-8
    assert "différente : la première ligne est comptée" in reasons[6]
    assert "différente" not in reasons[5] + reasons[8] and "double" in reasons[5] + reasons[8]
    cer = [CER_HEADER, ["C1", D(2017, 3, 1), "Non"], ["C1", D(2017, 3, 1), "Oui"],
           ["C1", D(2017, 3, 1), "non"]]
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows({"Code thématique": "RU", "Nombre de référents": 3}),
        "Participants": participants(["C1", D(2017, 1, 1), None, None, None]), "CER": cer},
        name="ru"), idents=("C1",))
    assert [c["accompagnement_social"] for c in r.cer] == [False]
    reasons = {j.row_number: j.reason for j in r.rejets}
    assert "Accompagnement social » différent : la première ligne est comptée" in reasons[3]
    assert "différent" not in reasons[4] and "double" in reasons[4]


def test_identifier_never_in_clear_in_rejets(tmp_path, fmt):
    secret = "NIR-1850775123456"
    rows = [
        [secret, "bad", None, None, None],
        [secret, D(2017, 1, 1), None, "AM-DECES", None],
        [1234567.0, "bad", None, None, None],
    ]
    path = build(tmp_path, fmt, {"Action": action_rows(), "Participants": participants(*rows)})
    r = parse(path, idents=(secret, "1234567"))
    assert len(r.rejets) == 3
    for rej in r.rejets:
        assert secret not in repr(rej) and "1234567" not in repr(rej)


def test_refused_rows_identifier_typed_elsewhere_is_masked(tmp_path, fmt):
    """An identifier is pseudonymised in every refusal of the file, even when no row of that
    participant was loaded: in its own refused row, or in another refused row."""
    own, other = "SECRET42", "SECRET43"
    rows = [
        [own, D(2017, 3, 1), D(2017, 5, 1), own, None],  # its own id as exit reason: refused
        [other, "bad", None, None, None],  # refused for its date: this id is loaded nowhere
        ["OK1", D(2017, 1, 1), D(2017, 5, 1), other, None],  # that id as exit reason
    ]
    path = build(tmp_path, fmt, {"Action": action_rows(), "Participants": participants(*rows)})
    r = parse(path, idents=(own, other))
    assert [(rej.row_number, rej.column_name) for rej in r.rejets] == [
        (4, "Motif de sortie"), (5, "Date d'entrée"), (6, "Motif de sortie")
    ]
    assert r.rejets[0].value == hash_identifiant(own)
    assert r.rejets[2].value == hash_identifiant(other)

    cer = [CER_HEADER, ["SECRET44", "bad", "Oui"], ["C1", D(2017, 2, 1), "SECRET44"]]
    path = build(
        tmp_path,
        fmt,
        {"Action": action_rows({"Code thématique": "RU", "Nombre de référents": 2}), "CER": cer},
        name="ru",
    )
    r = parse(path, idents=("SECRET44",))
    assert [rej.column_name for rej in r.rejets] == ["Date de signature", "Accompagnement social"]
    assert r.rejets[1].value == hash_identifiant("SECRET44")


# ------------------------------------------------------------------ file-level rejections
def assert_file_rejected(r, fragment, rows=1):
    assert r.file_rejected and r.action is None and not r.participants and not r.cer
    rej = only_rejet(r)
    assert rej.row_number is None
    assert fragment.lower() in rej.reason.lower(), rej.reason
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (rows, 0, rows)
    return rej


@pytest.mark.parametrize("suffix", [".xlsx", ".ods"])
@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "vide"),
        (b"Identifiant;Date\nP1;01/01/2017\n", "pas un classeur"),
        (b"Bonjour, ci-joint le bilan.", "pas un classeur"),
        (b"PK\x03\x04" + b"\x00garbage" * 50, "illisible"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
            + b"\x00" * 100
            + "EncryptionInfo".encode("utf-16-le")
            + b"\x00" * 400,
            "mot de passe",
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x01" * 600, "illisible"),
    ],
)
def test_unreadable_files(tmp_path, suffix, content, fragment):
    path = tmp_path / f"f{suffix}"
    path.write_bytes(content)
    assert_file_rejected(parse(path), fragment)


def test_truncated_zip(tmp_path, fmt):
    good = build(tmp_path, fmt, {"Action": action_rows(), "Participants": participants()})
    data = good.read_bytes()
    bad = tmp_path / f"trunc.{fmt}"
    bad.write_bytes(data[: len(data) // 2])
    assert_file_rejected(parse(bad), "illisible")


def test_zip_with_corrupt_member(tmp_path, fmt):
    good = build(tmp_path, fmt, {"Action": action_rows(), "Participants": participants()})
    bad = tmp_path / f"corrupt.{fmt}"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith(("sheet1.xml", "content.xml")):
                data = data[: len(data) // 3]
            zout.writestr(item, data)
    r = parse(bad)
    assert r.file_rejected and r.rows_loaded == 0


def test_no_action_sheet_counts_participant_rows(tmp_path, fmt):
    path = build(
        tmp_path,
        fmt,
        {
            "Feuil1": action_rows(),
            "Participants": participants(
                ["P1", D(2017, 1, 1), None, None, None], ["P2", D(2017, 1, 1), None, None, None]
            ),
        },
    )
    assert_file_rejected(parse(path, idents=("P1", "P2")), "feuille Action introuvable", rows=3)


ACTION_CASES = [
    ({}, ("N° convention",), "N° convention", "absente"),
    ({"N° convention": "CONV-2017-1"}, (), "N° convention", "invalide"),
    ({"N° convention": "PDI-2017-01"}, (), "N° convention", "invalide"),
    ({"N° convention": "PDI-2016-0001"}, (), "N° convention", "autre exercice"),
    ({}, ("Opérateur",), "Opérateur", "absente"),
    ({}, ("Intitulé de l'action",), "Intitulé de l'action", "absente"),
    ({"Code thématique": "PRO-INCONNU"}, (), "Code thématique", "inconnu"),
    ({}, ("Code thématique",), "Code thématique", "absente"),
    ({"SIRET": "123 456"}, (), "SIRET", "14 chiffres"),
    ({}, ("SIRET",), "SIRET", "absente"),
    ({"Date de début": "le 1er janvier"}, (), "Date de début", "illisible"),
    ({}, ("Date de fin",), "Date de fin", "absente"),
    ({"Date de fin": D(2016, 12, 31)}, (), "Date de fin", "antérieure"),
    # a 2017 convention starts in 2017 or 2018: a start typed years early widened the period
    # its participants' dates are checked against, and old exits counted in 2017
    ({"Date de début": D(2016, 12, 31)}, (), "Date de début", "hors des années 2017-2018"),
    ({"Date de début": D(2012, 1, 2)}, (), "Date de début", "hors des années 2017-2018"),
    ({"Date de début": D(2019, 1, 1), "Date de fin": D(2019, 6, 30)}, (), "Date de début",
     "date de début 01/01/2019 hors des années 2017-2018"),
    # its end too (exits after it are read as still accompanied); extensions reach 2019 at most
    ({"Date de fin": D(2020, 1, 1)}, (), "Date de fin",
     "date de fin 01/01/2020 au-delà du 31/12/2019"),
    ({"ETP mobilisés": "-1"}, (), "ETP mobilisés", "négatif"),
    ({"ETP mobilisés": "deux"}, (), "ETP mobilisés", "illisible"),
    ({}, ("ETP mobilisés",), "ETP mobilisés", "absente"),
    ({"Code thématique": "RU"}, (), "Nombre de référents", "absente"),
    (
        {"Code thématique": "RU", "Nombre de référents": "beaucoup"},
        (),
        "Nombre de référents",
        "illisible",
    ),
    ({"Code thématique": "SOC-MOB"}, (), "Problèmes de mobilité résolus", "absente"),
    (
        {"Code thématique": "SOC-INS", "Accueils individuels": "2,5"},
        (),
        "Accueils individuels",
        "décimales",
    ),
    # 12 or 12 000? refused, never guessed (it was read as 12)
    ({"Code thématique": "SOC-INS", "Accueils individuels": "12.000"}, (),
     "Accueils individuels", "ambigu"),
]


@pytest.mark.parametrize(("overrides", "drop", "column", "fragment"), ACTION_CASES)
def test_invalid_action(tmp_path, fmt, overrides, drop, column, fragment):
    sheets = {
        "Action": action_rows(overrides, drop=drop),
        "Participants": participants(["P1", D(2017, 1, 1), None, None, None]),
        "CER": [CER_HEADER, ["P1", D(2017, 1, 1), "Oui"]],
    }
    r = parse(build(tmp_path, fmt, sheets), idents=("P1",))
    rej = assert_file_rejected(r, fragment, rows=3)  # Action + 1 participant + 1 CER, all rejected
    assert rej.column_name == column and rej.sheet == "Action"
    # the row of the label at fault, when there is one, in the reason (the file is refused
    # whole: no row_number)
    at = [i + 1 for i, row in enumerate(sheets["Action"]) if row and row[0] == column]
    if at:
        assert f"(ligne {at[0]})" in rej.reason, rej.reason
    else:
        assert "(ligne" not in rej.reason, rej.reason


def test_each_action_problem_names_its_own_row(tmp_path, fmt):
    rows = action_rows({"SIRET": "123 456"}, drop=("ETP mobilisés",))
    siret = next(i + 1 for i, row in enumerate(rows) if row and row[0] == "SIRET")
    r = parse(build(tmp_path, fmt, {"Action": rows, "Participants": participants()}))
    rej = assert_file_rejected(r, "14 chiffres", rows=1)
    first = f"SIRET invalide (14 chiffres attendus) (ligne {siret}); "
    assert rej.reason.startswith(first), rej.reason
    assert rej.reason.endswith("rubrique « ETP mobilisés » absente"), rej.reason


def test_action_label_without_value(tmp_path, fmt):
    rows = action_rows()
    rows.insert(3, ["Opérateur"])  # first occurrence empty, a later one has a value: accepted
    r = parse(build(tmp_path, fmt, {"Action": rows, "Participants": participants()}))
    assert not r.file_rejected and r.action["operateur"] == "Association Tremplin"
    rows = action_rows(drop=("Opérateur",))
    rows.append(["Opérateur", None, "SIRET", "12345678900012"])  # next cell is a label
    r = parse(build(tmp_path, fmt, {"Action": rows, "Participants": participants()}, "b"))
    rej = assert_file_rejected(r, "sans valeur")
    assert rej.column_name == "Opérateur"


def test_a_value_spelled_like_a_label_is_a_value(tmp_path, fmt):
    """An action titled 'Accueils individuels' (a SOC-INS indicator's label): its Intitulé was
    read as having no value, the workbook refused."""
    rows = action_rows({"Intitulé de l'action": "Accueils individuels"})
    r = parse(build(tmp_path, fmt, {"Action": rows, "Participants": participants()}))
    assert not r.file_rejected, r.rejets
    assert r.action["intitule"] == "Accueils individuels"
    assert r.action["accueils_individuels"] is None
    # but a label two cells away is a pair of its own, both empty (found by a review: the
    # operator was read as 'Date de fin')
    rows = action_rows()
    rows.insert(2, ["Opérateur", None, "Date de fin", None])
    r = parse(build(tmp_path, fmt, {"Action": rows, "Participants": participants()}, "paires"))
    assert not r.file_rejected and r.action["operateur"] == "Association Tremplin"
    rows = action_rows(drop=("Intitulé de l'action",))
    rows.insert(2, ["Intitulé de l'action", None, "Accueils individuels", None])
    r = parse(build(tmp_path, fmt, {"Action": rows, "Participants": participants()}, "vide"))
    assert r.file_rejected and "sans valeur" in r.rejets[0].reason


def test_accompagnement_without_participants_sheet(tmp_path, fmt):
    r = parse(build(tmp_path, fmt, {"Action": action_rows()}))
    assert_file_rejected(r, "feuille Participants introuvable")


def test_two_sheets_for_one_expected_sheet_refuse_the_file(tmp_path, fmt):
    """An empty 'PARTICIPANTS' before the filled 'Liste des participants': taking the first
    published the action with no participant. The file is refused, naming both, every row
    of both counted."""
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows(),
        "PARTICIPANTS": participants(),
        "Liste des participants": participants(["P1", D(2017, 1, 5), None, None, "Oui"],
                                               ["P2", D(2017, 2, 5), None, None, "Non"]),
    }), idents=("P1", "P2"))
    rej = assert_file_rejected(r, "plusieurs feuilles Participants", rows=3)
    assert "« PARTICIPANTS », « Liste des participants »" in rej.reason
    assert rej.sheet == "Liste des participants" and r.num_convention == "PDI-2017-0001"
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Fiche action": action_rows(),
                                    "Participants": participants()}, name="deux_actions"))
    assert_file_rejected(r, "plusieurs feuilles Action")


def test_two_sheets_the_action_does_not_use_are_ignored(tmp_path, fmt):
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows({"Code thématique": "PRO-PART"}),
        "Participants": participants(), "Bénéficiaires": participants(),
    }))
    assert not r.file_rejected


def test_ru_without_cer_sheet(tmp_path, fmt):
    r = parse(
        build(
            tmp_path,
            fmt,
            {"Action": action_rows({"Code thématique": "RU", "Nombre de référents": 3})},
        )
    )
    assert_file_rejected(r, "feuille CER introuvable")


@pytest.mark.parametrize("missing", ["Identifiant", "Date d'entrée"])
def test_participants_missing_column(tmp_path, fmt, missing):
    header = [h for h in PARTICIPANT_HEADER if h != missing]
    row = {
        "Identifiant": "P1",
        "Date d'entrée": D(2017, 1, 1),
        "Date de sortie": None,
        "Motif de sortie": None,
        "Mise en parcours en cours": "Oui",
    }
    rows = [["Titre"], header, [row[h] for h in header], [row[h] for h in header]]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}), idents=("P1",))
    rej = assert_file_rejected(r, f"« {missing} »", rows=3)
    assert rej.sheet == "Participants" and rej.column_name == missing
    assert rej.reason.endswith("en-tête lu ligne 2"), rej.reason  # the header row read


def test_missing_column_quotes_the_headers_not_recognised(tmp_path, fmt):
    """'Entrée le' for 'Date d'entrée': the refusal names the header row and quotes what it did
    not recognise, so the operator sees which label to rename."""
    header = ["Identifiant", "Entrée le", "Date de sortie", "Motif de sortie"]
    rows = [["Titre"], [], header, ["P1", D(2017, 1, 1), None, None]]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("P1",))
    rej = assert_file_rejected(r, "« Date d'entrée » introuvable", rows=2)
    assert rej.reason.endswith("en-tête lu ligne 3, non reconnu(s) : « Entrée le »"), rej.reason


def test_sheet_without_exit_columns_is_read(tmp_path, fmt):
    """The contract requires neither Date de sortie (blank while a person is still accompanied)
    nor Motif de sortie (only with a Date de sortie): a sheet of people all still accompanied may
    come without both columns, and is read, not refused whole."""
    rows = [["Identifiant", "Date d'entrée", "Sexe"], ["P1", D(2017, 1, 1), "F"],
            ["P2", "03/02/2017", "H"]]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("P1", "P2"))
    assert not r.file_rejected and not r.rejets
    assert [(p["identifiant"], p["date_sortie"], p["code_motif"]) for p in r.participants] == [
        ("P1", None, None), ("P2", None, None)]
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (3, 3, 0)


@pytest.mark.parametrize(
    ("header", "row", "column", "fragment"),
    [
        # an exit date but no Motif column: that row is refused, not the file
        (["Identifiant", "Date d'entrée", "Date de sortie"], ["R1", D(2017, 1, 1), D(2017, 3, 1)],
         "Motif de sortie", "sans Motif"),
        # a Motif but no Date de sortie column
        (["Identifiant", "Date d'entrée", "Motif de sortie"], ["R1", D(2017, 1, 1), "AM-DECES"],
         "Motif de sortie", "sans Date de sortie"),
    ],
)
def test_one_exit_column_without_the_other(tmp_path, fmt, header, row, column, fragment):
    rows = [header, ["OK1", D(2017, 1, 1), None], row]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("OK1", "R1"))
    assert not r.file_rejected
    rej = only_rejet(r)
    assert (rej.row_number, rej.column_name) == (3, column) and fragment in rej.reason
    assert [p["identifiant"] for p in r.participants] == ["OK1"]


@pytest.mark.parametrize(
    "header",
    [
        # an extra line-number column 'ID' (an accepted spelling of Identifiant) beside it: the
        # counter was loaded as the identifier
        ["ID", "Identifiant", "Date d'entrée", "Date de sortie", "Motif de sortie"],
        # … or the counter under the contract's own label, the identifier under a variant
        ["Identifiant bénéficiaire", "Identifiant", "Date d'entrée", "Date de sortie",
         "Motif de sortie"],
    ],
)
def test_two_columns_for_one_field_refuse_the_sheet(tmp_path, fmt, header):
    """Which of two columns naming the same field holds the data is a guess either way: the
    sheet is refused, naming both, never read from the wrong one."""
    rows = [header, ["P1", 1, D(2017, 1, 1), None, None], ["P2", 2, D(2017, 1, 1), None, None]]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("P1", "P2"))
    rej = assert_file_rejected(r, "plusieurs colonnes pour « Identifiant »", rows=3)
    assert rej.sheet == "Participants" and rej.column_name == "Identifiant"
    assert f"« {header[0]} »" in rej.reason and "« Identifiant »" in rej.reason
    cer = [["Identifiant", "ID", "Date de signature", "Accompagnement social"],
           ["C1", 1, D(2017, 2, 1), "Oui"]]
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows({"Code thématique": "RU", "Nombre de référents": 3}),
        "Participants": participants(["C1", D(2017, 1, 1), None, None, None]), "CER": cer},
        name="ru"), idents=("C1",))
    rej = assert_file_rejected(r, "plusieurs colonnes pour « Identifiant »", rows=2)
    assert rej.sheet == "CER"


@pytest.mark.parametrize(
    "rows",
    [
        # exits under labels the parser does not know: they would be dropped unseen
        [["Identifiant", "Date d'entrée", "Date de fin d'accompagnement", "Raison de la sortie"],
         ["P1", D(2017, 1, 1), D(2017, 6, 1), "AM-DECES"]],
        # a two-line header: 'Sortie' above 'Date' (unknown alone) and 'Motif'
        [[None, None, "Sortie", None], ["Identifiant", "Date d'entrée", "Date", "Motif"],
         ["P1", D(2017, 1, 1), D(2017, 6, 1), "AM-DECES"]],
    ],
    ids=["unknown labels", "two-line header"],
)
def test_exit_columns_under_unknown_labels_refuse_the_sheet(tmp_path, fmt, rows):
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("P1",))
    rej = assert_file_rejected(r, "« Date de sortie »", rows=2)
    assert rej.sheet == "Participants" and "parle de sortie" in rej.reason


def test_subtotal_and_count_rows_are_not_participants(tmp_path, fmt):
    """'Sous-total', 'Totaux' rows are Total rows (skipped, not counted). A count typed under a
    date column ('Nombre de participants | 102', serial date 1900-04-11) is refused, never loaded
    as a participant; so is an identifier typed with a space when its date is unreadable, and an
    identifier alone (neither is a note: no letters)."""
    rows = [
        PARTICIPANT_HEADER,
        ["P1", D(2017, 1, 1), None, None, None],  # row 2
        ["Sous-total", 1, None, None, None],  # skipped
        ["TOTAUX", 1, None, None, None],  # skipped
        ["sous total accompagnements", 1, None, None, None],  # skipped
        ["Nombre de participants", 102, None, None, None],  # row 6: refused (prose)
        ["1234 567", "1er mars 2018", None, None, None],  # row 7: refused, date illisible
        ["7654 321", None, None, None, None],  # row 8: refused, date manquante
        ["Données arrêtées au 31/12", None, None, None, None],  # a note: skipped
        ["Observations :", None, None, None, None],  # a note's one-word heading: skipped
        ["N.B.", None, None, None, None],  # skipped
    ]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("P1", "1234 567", "7654 321"))
    assert [p["identifiant"] for p in r.participants] == ["P1"]
    assert [(j.row_number, j.column_name) for j in r.rejets] == [
        (6, "Identifiant"), (7, "Date d'entrée"), (8, "Date d'entrée")]
    assert "pas un numéro" in r.rejets[0].reason and "illisible" in r.rejets[1].reason
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (5, 2, 3)


def test_implausible_dates_are_refused(tmp_path, fmt):
    rows = [PARTICIPANT_HEADER, ["P1", D(1988, 12, 31), None, None, None],
            ["P2", D(1989, 1, 1), None, None, None], ["P3", 3, None, None, None]]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("P1", "P2", "P3"))
    assert [p["identifiant"] for p in r.participants] == ["P2"]
    assert [(j.sheet, j.row_number) for j in r.rejets] == [("Participants", 2), ("Participants", 4)]
    assert all("1989" in j.reason for j in r.rejets)
    cer = [CER_HEADER, ["C1", 45, "Oui"], ["C2", D(2017, 1, 1), "Oui"]]
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows({"Code thématique": "RU", "Nombre de référents": 3}),
        "Participants": participants(["C2", D(2017, 1, 1), None, None, None]), "CER": cer},
        name="ru"), idents=("C1", "C2"))
    assert [c["identifiant"] for c in r.cer] == ["C2"]
    assert [(j.sheet, j.row_number) for j in r.rejets] == [("CER", 2)]
    assert "1989" in r.rejets[0].reason


def test_a_convention_may_start_late_in_the_next_year(tmp_path, fmt):
    """Adopted on budget 2017, carried out over 2017 and 2018: a start on 31/12/2018 is read,
    and an end on 31/12/2019 (an extension by avenant)."""
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows({"Date de début": D(2018, 12, 31), "Date de fin": D(2019, 12, 31)}),
        "Participants": participants(["P1", D(2019, 1, 2), None, None, None])}), idents=("P1",))
    assert not r.file_rejected and r.rejets == [], r.rejets
    assert r.action["date_debut"] == D(2018, 12, 31)


def test_dates_outside_the_convention_period_are_refused(tmp_path, fmt):
    """The bilan counts what happened in the action (convention 01/01/2017 → 31/12/2017): an
    exit before its start, an entry after its end, a CER signed outside it are refused (they were
    counted as this exercise's exits and contracts); an entry before its start (a person carried
    over) and an exit after its end (still accompanied when it ended: the marts say so) are
    read. The period's first and last days are in it."""
    rows = [
        PARTICIPANT_HEADER,
        ["P1", D(2016, 3, 1), None, None, None],  # row 2: carried over, still accompanied
        ["P2", D(2016, 3, 1), D(2017, 2, 1), "ID-EMPLOI", None],  # row 3: exit in the period
        ["P3", D(2015, 1, 10), D(2015, 5, 1), "ID-EMPLOI", None],  # row 4: exit before it
        ["P4", D(2017, 3, 1), D(2018, 3, 1), "ID-EMPLOI", None],  # row 5: exit after it, read
        ["P5", D(2018, 1, 5), None, None, None],  # row 6: entry after it
        ["P6", D(2016, 6, 1), D(2016, 12, 31), "ID-EMPLOI", None],  # row 7: the day before it
        ["P7", D(2017, 12, 31), D(2017, 12, 31), "ID-EMPLOI", None],  # row 8: its last day
        ["P8", D(2016, 6, 1), D(2017, 1, 1), "ID-EMPLOI", None],  # row 9: its first day
    ]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"))
    assert [p["identifiant"] for p in r.participants] == ["P1", "P2", "P4", "P7", "P8"]
    assert [(j.row_number, j.column_name) for j in r.rejets] == [
        (4, "Date de sortie"), (6, "Date d'entrée"), (7, "Date de sortie")]
    assert "avant le début de la convention (01/01/2017)" in r.rejets[0].reason
    assert "après la fin de la convention (31/12/2017)" in r.rejets[1].reason
    cer = [CER_HEADER, ["C1", D(2016, 12, 31), "Oui"], ["C2", D(2017, 12, 31), "Non"],
           ["C3", D(2017, 1, 1), "Oui"], ["C4", D(2018, 1, 1), "Oui"]]
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows({"Code thématique": "RU", "Nombre de référents": 3}),
        "Participants": participants(["C2", D(2017, 1, 1), None, None, None]), "CER": cer},
        name="ru"), idents=("C1", "C2", "C3", "C4"))
    assert [c["identifiant"] for c in r.cer] == ["C2", "C3"]
    assert [(j.sheet, j.row_number, j.column_name) for j in r.rejets] == [
        ("CER", 2, "Date de signature"), ("CER", 5, "Date de signature")]
    assert "hors de la période de la convention (du 01/01/2017 au 31/12/2017)" in r.rejets[0].reason


def test_optional_mise_en_parcours_column(tmp_path, fmt):
    rows = [PARTICIPANT_HEADER[:4], ["P1", D(2017, 1, 1), None, None]]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}))
    assert not r.file_rejected and r.participants[0]["mise_en_parcours_en_cours"] is None


def test_header_beyond_ten_rows_is_not_found(tmp_path, fmt):
    rows = [[f"titre {i}"] for i in range(10)] + [PARTICIPANT_HEADER, ["P1", D(2017, 1, 1)]]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}))
    assert r.file_rejected and "Identifiant" in r.rejets[0].reason


def test_cer_missing_column(tmp_path, fmt):
    r = parse(
        build(
            tmp_path,
            fmt,
            {
                "Action": action_rows({"Code thématique": "RU", "Nombre de référents": 3}),
                "CER": [["Identifiant", "Date de signature"], ["C1", D(2017, 1, 1)]],
            },
        )
    )
    rej = assert_file_rejected(r, "« Accompagnement social »", rows=2)
    assert rej.column_name == "Accompagnement social" and rej.sheet == "CER"


def test_unexpected_error_becomes_file_rejection(tmp_path, fmt, monkeypatch):
    from dagster_project.parsing import workbook

    def boom(*a, **k):
        raise ZeroDivisionError("P1 secret")

    monkeypatch.setattr(workbook, "_parse_action", boom)
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": participants()}))
    rej = assert_file_rejected(r, "erreur inattendue: ZeroDivisionError")
    assert "secret" not in rej.reason


def test_missing_path_is_rejected_not_raised(tmp_path):
    """A file gone between the listing and the parse (moved by an operator): refused, and not
    as a file that cannot be opened, which would count under its name's number as the newest
    workbook of that convention (a cold review)."""
    from dagster_project.parsing.workbook import refused_unopened

    r = parse(tmp_path / "absent PDI-2017-0001.xlsx")
    assert r.file_rejected
    assert r.rejets[0].reason == "fichier disparu du dossier pendant le chargement"
    assert not refused_unopened(r.rejets[0].reason)
    truncated = tmp_path / "tronque.xlsx"
    truncated.write_bytes(b"PK\x03\x04" + b"\0" * 50)
    assert refused_unopened(parse(truncated).rejets[0].reason)


def test_note_and_total_rows_in_a_date_column_are_not_participants(tmp_path, fmt):
    header = ["Date de sortie", "Date d'entrée", "Identifiant", "Motif de sortie"]
    rows = [
        [None, *header],  # table starts in column B
        [None, None, D(2017, 1, 2), "N1", None],  # row 2
        [None, D(2017, 3, 1), "02/01/2017", "N2", "AM-REFUS"],  # row 3
        [None, "Total", 2],  # Total row in column B (a date column)
        [],
        [None, "Nombre de lignes : 2 – données arrêtées au bilan"],  # note in a date column
        [None, "32/13/2017", None, None, None],  # not prose: a data row without identifiant
    ]
    r = parse(
        build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}), idents=("N1", "N2")
    )
    assert [p["source_row"] for p in r.participants] == [2, 3]
    rej = only_rejet(r)
    assert (rej.row_number, rej.column_name) == (7, "Identifiant")
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 3, 1)


def test_rows_whose_dates_are_typed_as_text(tmp_path, fmt):
    """Dates typed as text take a shorter path through the row tests (the common habit of some
    operators): a Total row is still skipped when its date cells hold text dates, and a text
    date without identifiant is still a refused row."""
    rows = [
        ["Identifiant", "Date d'entrée", "Date de sortie", "Motif de sortie"],
        ["N1", "02/01/2017", "", ""],  # row 2: loaded
        ["N2", "01/03/2017", "15/06/2017", "AM-REFUS"],  # row 3: loaded
        ["Total", "01/01/2017", "31/12/2017", 2],  # Total row with text dates: not a row
        ["\u00a0 total général", "01/01/2017", "", ""],  # spaced Total: not a row
        # a date in words, no identifiant: a participant whose identifier is missing (refused,
        # on record), not a note (skipped unseen): only text of two words or more is prose
        ["", "12 mars 2017", "", ""],  # row 6: refused
        ["", "05/04/2017", "", ""],  # row 7: a text date without identifiant: refused
    ]
    r = parse(
        build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}), idents=("N1", "N2")
    )
    assert [(p["source_row"], p["date_entree"]) for p in r.participants] == [
        (2, D(2017, 1, 2)),
        (3, D(2017, 3, 1)),
    ]
    assert [(j.row_number, j.column_name) for j in r.rejets] == [
        (6, "Identifiant"), (7, "Identifiant")]
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (5, 3, 2)  # + the action row

    cer = [
        CER_HEADER,
        ["C1", "01/04/2017", "Oui"],  # row 2: loaded
        ["Total", "01/04/2017", 1],  # not a row
        ["", "3 avril 2017", ""],  # row 4: refused (see above)
        [None, "02/04/2017", "Oui"],  # row 5: refused
    ]
    sheets = {
        "Action": action_rows({"Code thématique": "RU", "Nombre de référents": "3"}),
        "CER": cer,
    }
    r = parse(build(tmp_path, fmt, sheets, name="ru"), idents=("C1",))
    assert [c["source_row"] for c in r.cer] == [2]
    assert [(j.row_number, j.column_name) for j in r.rejets] == [
        (4, "Identifiant"), (5, "Identifiant")]
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (4, 2, 2)


def test_a_dated_note_or_a_name_is_no_participant(tmp_path, fmt):
    """A note dated under the table ('Situation arrêtée au | 31/12/2017') was loaded as one more
    participant still accompanied (probe review); a name is no pseudonymised number either. Both
    are refused, their text not recorded (it may be a person's name). An identifier typed with a
    space ('AB 123') is an identifier: its row is read (refused here, its entry date missing),
    never skipped as a note."""
    rows = [
        PARTICIPANT_HEADER,
        ["P1", D(2017, 1, 1), None, None, None],  # row 2: loaded
        ["AB 123", None, None, None, "Oui"],  # row 3: refused, Date d'entrée manquante
        ["Situation arrêtée au", D(2017, 12, 31), None, None, None],  # row 4: refused
        ["Jean Dupont", "01/02/2017", None, None, None],  # row 5: refused
    ]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("P1", "AB 123"))
    assert [p["identifiant"] for p in r.participants] == ["P1"]
    assert [(j.row_number, j.column_name, j.value) for j in r.rejets] == [
        (3, "Date d'entrée", None), (4, "Identifiant", None), (5, "Identifiant", None)]
    assert "pas un numéro pseudonymisé" in r.rejets[1].reason
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (5, 2, 3)  # + the action row


def test_a_dated_one_word_note_or_a_hyphenated_name_is_no_participant(tmp_path, fmt):
    """A one-word note ('Observations : | 31/12/2017', 'Date d'arrêté | 31/12/2017' typed as
    text) or a hyphenated name holds no digit: no pseudonymised number. Each was loaded as one
    more participant still accompanied (spec audit: one word of letters was no prose); they are
    refused, their text not recorded, in the CER sheet too. A blank identifier is still
    'manquant', and identifiers with letters and digits are read."""
    rows = [
        PARTICIPANT_HEADER,
        ["P1", D(2017, 1, 1), None, None, None],  # row 2: loaded
        ["Observations :", D(2017, 12, 31), None, None, None],  # row 3: refused
        ["Date d'arrêté", "31/12/2017", None, None, None],  # row 4: refused
        ["Jean-Pierre DUPONT", D(2017, 3, 1), None, None, None],  # row 5: refused
        ["N.B. :", D(2017, 12, 31), None, None, None],  # row 6: refused
        ["  ", D(2017, 2, 1), None, None, None],  # row 7: refused, identifiant manquant
        ["ab-12", D(2017, 2, 1), None, None, None],  # row 8: loaded
    ]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("P1", "ab-12"))
    assert [p["identifiant"] for p in r.participants] == ["P1", "AB-12"]
    assert [(j.row_number, j.column_name, j.value) for j in r.rejets] == [
        (n, "Identifiant", None) for n in (3, 4, 5, 6, 7)]
    assert all("aucun chiffre, pas un numéro pseudonymisé" in j.reason for j in r.rejets[:4])
    assert "manquant" in r.rejets[4].reason
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (8, 3, 5)  # + the action row
    cer = [CER_HEADER, ["C1", D(2017, 1, 1), "Oui"], ["Signature :", D(2017, 12, 31), "Non"]]
    r = parse(build(tmp_path, fmt, {
        "Action": action_rows({"Code thématique": "RU", "Nombre de référents": 3}),
        "Participants": participants(["C1", D(2017, 1, 1), None, None, None]), "CER": cer},
        name="ru"), idents=("C1",))
    assert [c["identifiant"] for c in r.cer] == ["C1"]
    assert [(j.sheet, j.row_number, j.column_name, j.value) for j in r.rejets] == [
        ("CER", 3, "Identifiant", None)]


def test_a_title_speaking_of_the_end_does_not_refuse_a_sheet_without_exits(tmp_path, fmt):
    """'Participants – bilan de fin d'action' above the header: a title, over 'Identifiant'; the
    sheet has no exit column (allowed) and is read (it was refused as if a header spoke of
    exits: probe review). 'Sortie' over an unknown 'Date' still refuses it (test above)."""
    rows = [
        ["Participants – bilan de fin d'action"],
        ["Identifiant", "Date d'entrée", "Mise en parcours en cours"],
        ["P1", D(2017, 1, 1), "Oui"],
        ["P2", D(2017, 2, 1), "Non"],
    ]
    r = parse(build(tmp_path, fmt, {"Action": action_rows(), "Participants": rows}),
              idents=("P1", "P2"))
    assert not r.file_rejected and r.rejets == []
    assert [p["identifiant"] for p in r.participants] == ["P1", "P2"]
