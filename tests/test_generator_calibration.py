"""Calibration of the committed synthetic drop ``data/raw/2017``.

An independent reader (python-calamine + csv, its own label normalisation; it
uses neither the generator's in-memory plan nor dagster_project's parser)
re-reads the raw files and recomputes every published figure of
``dbt/seeds/bilan_publie_synthese.csv`` and ``bilan_publie_chiffres_cles.csv``.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from export_reader import read_mandats
from python_calamine import CalamineWorkbook

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "dbt" / "seeds"
RAW = ROOT / "data" / "raw" / "2017"


# ------------------------------------------------------------------ reader
def norm(v) -> str:
    """Lower case, no accents, letters and digits only."""
    s = unicodedata.normalize("NFKD", str(v))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]", "", s)


ACTION_KEYS = {
    norm("N° convention"): "num",
    norm("Opérateur"): "operateur",
    norm("SIRET"): "siret",
    norm("Intitulé de l'action"): "intitule",
    norm("Code thématique"): "code",
    norm("Date de début"): "debut",
    norm("Date de fin"): "fin",
    norm("ETP mobilisés"): "etp",
    norm("Nombre de référents"): "referents",
    norm("Accueils individuels"): "accueils_individuels",
    norm("Problèmes de mobilité résolus"): "problemes_mobilite_resolus",
    norm("Lieux d'accès multimédia coordonnés"): "lieux_acces_multimedia",
    norm("Certifications et attestations délivrées"): "certifications_delivrees",
}
PART_KEYS = {
    norm("Identifiant"): "id",
    norm("Date d'entrée"): "entree",
    norm("Date de sortie"): "sortie",
    norm("Motif de sortie"): "motif",
    norm("Mise en parcours en cours"): "oui",
}
CER_KEYS = {
    norm("Identifiant"): "id",
    norm("Date de signature"): "date",
    norm("Accompagnement social"): "social",
}


def to_date(v) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    m = re.fullmatch(r"\s*(\d{2})/(\d{2})/(\d{4})\s*", str(v))
    return date(int(m[3]), int(m[2]), int(m[1])) if m else None


def to_dec(v) -> Decimal:
    if isinstance(v, (int, float)):
        return Decimal(repr(v))
    return Decimal(str(v).strip().replace(",", "."))


def blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def oui_non(v) -> bool | None:
    n = norm(v) if not blank(v) else ""
    assert n in ("oui", "non", ""), v
    return {"oui": True, "non": False}.get(n)


@dataclass
class Workbook:
    path: Path
    action: dict
    participants: list[dict] = field(default_factory=list)
    cer: list[dict] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)


def read_table(rows: list[list], keys: dict[str, str], required: str) -> list[dict]:
    """Header within the first 10 rows; data rows until the end; blank rows,
    a trailing Total / note row skipped."""
    for h, row in enumerate(rows[:10]):  # noqa: B007 (h used after the loop)
        cols = {keys[norm(v)]: j for j, v in enumerate(row) if not blank(v) and norm(v) in keys}
        if required in cols:
            break
    else:
        raise AssertionError("header not found")
    out = []
    skipped_tail = 0
    for row in rows[h + 1 :]:
        if all(blank(v) for v in row):
            continue
        first = next(v for v in row if not blank(v))
        if norm(first).startswith(("total", "nombre")):
            skipped_tail += 1
            continue
        assert skipped_tail == 0, "data row after the trailing Total/note row"
        out.append({k: (row[j] if j < len(row) else None) for k, j in cols.items()})
    assert skipped_tail <= 1
    return out


def read_workbook(path: Path) -> Workbook:
    wb = CalamineWorkbook.from_path(str(path))
    by_role = {norm(n): n for n in wb.sheet_names}
    rows_of = {
        r: wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for r, n in by_role.items()
    }
    action: dict = {}
    for row in rows_of["action"]:
        for j, v in enumerate(row[:-1]):
            if not blank(v) and norm(v) in ACTION_KEYS and ACTION_KEYS[norm(v)] not in action:
                action[ACTION_KEYS[norm(v)]] = row[j + 1]
    w = Workbook(path, action, sheets=sorted(by_role))
    if "participants" in rows_of:
        w.participants = read_table(rows_of["participants"], PART_KEYS, "id")
    if "cer" in rows_of:
        w.cer = read_table(rows_of["cer"], CER_KEYS, "id")
    return w


def read_seed(name: str) -> list[dict]:
    with open(SEEDS / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def drop():
    if not RAW.is_dir():
        pytest.fail("data/raw/2017 is missing: it is committed (make data regenerates it)")
    files = sorted(p for p in (RAW / "operateurs").iterdir() if p.is_file())
    return {
        "files": files,
        "workbooks": [read_workbook(p) for p in files],
        "mandats": read_mandats(RAW / "finances" / "mandats_2017.csv"),
    }


@pytest.fixture(scope="module")
def figures(drop):
    """Every published figure, recomputed from the raw files."""
    them = {r["code_thematique"]: r for r in read_seed("thematiques.csv")}
    motifs = read_seed("motifs_sortie.csv")
    motif_of = {}
    for m in motifs:
        motif_of[norm(m["code_motif"])] = m
        motif_of[norm(m["libelle_motif"])] = m
    f: dict = defaultdict(Counter)  # perimetre -> indicateur -> value
    montant = Counter()
    for m in drop["mandats"]:
        montant[m["convention"]] += m["cents"]
    code_of = {}
    cer_persons: set[str] = set()
    cer_social: set[str] = set()
    etp_total = Decimal(0)
    for w in drop["workbooks"]:
        a = w.action
        code = a["code"].strip()
        code_of[a["num"].strip().upper()] = code
        t = them[code]
        volet = t["code_type_action"]
        etp = to_dec(a["etp"])
        etp_total += etp
        for per in {"total", code, volet}:
            f[per]["nb_actions"] += 1
        f[code]["montant_cents"] += montant[a["num"].strip().upper()]
        if code == "RU":
            f["RU"]["nb_referents"] += int(a["referents"])
            f["RU"]["etp_x100"] += int(etp * 100)
            for r in w.cer:
                pid = str(r["id"]).strip()
                cer_persons.add(pid)
                if oui_non(r["social"]):
                    cer_social.add(pid)
        for ind in (
            "accueils_individuels",
            "problemes_mobilite_resolus",
            "lieux_acces_multimedia",
            "certifications_delivrees",
        ):
            if ind in a:
                v = a[ind]
                assert float(v) == int(v)
                f[code][ind] += int(v)
        for p in w.participants:
            keys = [code, volet, "total"]
            for k in keys:
                f[k]["accompagnements"] += 1
            if not blank(p.get("sortie")):
                m = motif_of[norm(p["motif"])]
                cat, sub = m["categorie"], m["sous_categorie"]
                for k in keys:
                    f[k]["fins_accompagnement"] += 1
                    f[k][
                        {
                            "INSERTION_DURABLE": "insertions_durables",
                            "MISE_EN_PARCOURS": "mises_en_parcours",
                            "DYNAMIQUE_PARCOURS": "sorties_dynamique_parcours",
                            "AUTRE_MOTIF": "sorties_autres_motifs",
                        }[cat]
                    ] += 1
                    if sub == "OUVERTURE_DROITS":
                        f[k]["sorties_ouverture_droits"] += 1
                    if sub == "CREATION_ACTIVITE":
                        f[k]["sorties_insertion_durable_creation_activite"] += 1
            elif oui_non(p.get("oui")) and volet == "PRO":
                f["PRO"]["en_cours_avec_mise_en_parcours"] += 1
    f["total"]["nb_partenaires"] = len(
        {re.sub(r"\s", "", w.action["siret"]) for w in drop["workbooks"]}
    )
    f["total"]["etp_x100"] = int(etp_total * 100)
    f["total"]["montant_cents"] = sum(montant.values())
    f["RU"]["nb_conventions"] = f["RU"]["nb_actions"]
    f["RU"]["personnes_cer"] = len(cer_persons)
    f["RU"]["personnes_accompagnement_social"] = len(cer_social)
    for volet in ("SOC", "PRO", "RU"):
        f[volet]["montant_cents"] = sum(
            f[c]["montant_cents"] for c, t in them.items() if t["code_type_action"] == volet
        )
        f[volet]["nb_thematiques"] = sum(1 for t in them.values() if t["code_type_action"] == volet)
    for k in ("total", "SOC", "PRO") + tuple(them):
        f[k]["sorties_emploi_formation"] = f[k]["insertions_durables"] + f[k]["mises_en_parcours"]
        f[k]["sorties_insertion_durable"] = f[k]["insertions_durables"]
        f[k]["sorties_mise_en_parcours"] = f[k]["mises_en_parcours"]
    f["total"]["personnes_reprise_activite"] = (
        f["total"]["sorties_emploi_formation"] + f["PRO"]["en_cours_avec_mise_en_parcours"]
    )
    f["__code_of__"] = code_of
    return f


# ------------------------------------------------------------------ tests
def test_synthese_every_published_cell(figures):
    checked = 0
    for r in read_seed("bilan_publie_synthese.csv"):
        code = r["code_thematique"]
        for col, val in r.items():
            if col in ("exercice", "code_thematique", "thematique") or val == "":
                continue
            got = (
                figures[code]["montant_cents"] if col == "montant_paye_eur" else figures[code][col]
            )
            want = int(val) * 100 if col == "montant_paye_eur" else int(val)
            assert got == want, (code, col, got, want)
            checked += 1
        if r["accompagnements"] == "" and r["code_thematique"] != "RU":
            assert figures[code]["accompagnements"] == 0  # partnership: no participant
    assert checked > 100


def test_blank_synthesis_cells_are_zero(figures):
    for code in ("SOC-INS", "SOC-MOB", "SOC-NUM"):
        assert figures[code]["insertions_durables"] == 0
        assert figures[code]["mises_en_parcours"] == 0


def test_chiffres_cles_every_figure(figures):
    for r in read_seed("bilan_publie_chiffres_cles.csv"):
        per, ind, val = r["perimetre"], r["indicateur"], int(r["valeur"])
        if ind == "montant_paye_eur":
            got, want = figures[per]["montant_cents"], val * 100
        elif ind == "etp":
            got, want = figures[per]["etp_x100"], val * 100
        else:
            got, want = figures[per][ind], val
        if r["comparaison"] == "minimum":
            assert want < got < want + 500, (per, ind, got)
        else:
            assert got == want, (per, ind, got, want)


def test_files_mix_and_sheets(drop):
    files = drop["files"]
    assert len(files) == 220
    exts = Counter(p.suffix for p in files)
    assert set(exts) == {".xlsx", ".ods"}
    assert 0.1 < exts[".ods"] / len(files) < 0.35
    them = {r["code_thematique"]: r for r in read_seed("thematiques.csv")}
    for w in drop["workbooks"]:
        code = w.action["code"].strip()
        want = {"action"}
        if them[code]["nature"] == "accompagnement":
            want.add("participants")
        if code == "RU":
            want.add("cer")
        assert set(w.sheets) == want, (w.path.name, w.sheets)
    # layouts vary: labels in B/C sometimes, sheet names in several spellings
    names = {
        n for w in drop["workbooks"] for n in CalamineWorkbook.from_path(str(w.path)).sheet_names
    }
    assert len(names) > 6


def test_action_fields(drop):
    nums = set()
    for w in drop["workbooks"]:
        a = w.action
        for k in ("num", "operateur", "siret", "intitule", "code", "debut", "fin", "etp"):
            assert not blank(a.get(k)), (w.path.name, k)
        assert re.fullmatch(r"PDI-2017-\d{4}", a["num"]), a["num"]
        nums.add(a["num"])
        assert re.fullmatch(r"\d{14}", re.sub(r" ", "", a["siret"]))
        d0, d1 = to_date(a["debut"]), to_date(a["fin"])
        assert date(2017, 1, 1) <= d0 < d1 <= date(2018, 12, 31)
        assert to_dec(a["etp"]) >= 0
    assert len(nums) == 220


def test_mandates_and_conventions_match(drop, figures):
    ms = drop["mandats"]
    code_of = figures["__code_of__"]
    assert len({m["num"] for m in ms}) == len(ms)
    assert {m["convention"] for m in ms} == set(code_of)
    assert {m["nature"] for m in ms} == {"Avance", "Solde", "Avenant", "Annulation"}
    siret_of = {w.action["num"]: re.sub(r"\s", "", w.action["siret"]) for w in drop["workbooks"]}
    for m in ms:
        assert m["exercice"] == 2017
        assert date(2017, 1, 1) <= m["date"] <= date(2018, 12, 31)
        assert (m["cents"] < 0) == (m["nature"] == "Annulation")
        assert m["siret"] == siret_of[m["convention"]]
    # thousands separators: no-break space on most lines, plain space on some
    text = (RAW / "finances" / "mandats_2017.csv").read_bytes().decode("cp1252")
    assert "\u00a0" in text and re.search(r"\d \d{3},\d{2}", text)


def test_participant_dates_and_flags(drop):
    them = {r["code_thematique"]: r for r in read_seed("thematiques.csv")}
    persons, cer_rows = Counter(), Counter()
    for w in drop["workbooks"]:
        d0, d1 = to_date(w.action["debut"]), to_date(w.action["fin"])
        volet = them[w.action["code"].strip()]["code_type_action"]
        ids = [str(p["id"]).strip() for p in w.participants]
        assert len(ids) == len(set(ids))
        persons.update(ids)
        for p in w.participants:
            assert re.fullmatch(r"\d{7,8}", str(p["id"]).strip())
            e = to_date(p["entree"])
            assert d0 <= e <= d1
            if not blank(p.get("sortie")):
                s = to_date(p["sortie"])
                assert e < s <= d1
                assert not blank(p["motif"])
                assert oui_non(p.get("oui")) is not True
            else:
                assert blank(p.get("motif"))
                if volet != "PRO":
                    assert oui_non(p.get("oui")) is not True
        for r in w.cer:
            assert d0 <= to_date(r["date"]) <= d1
            assert oui_non(r["social"]) is not None
            cer_rows[str(r["id"]).strip()] += 1
    assert max(persons.values()) > 1  # some persons followed by several actions
    assert max(cer_rows.values()) == 2  # some CER signed then renewed


def test_layout_variety(drop):
    """The drop exercises the variety the contract allows."""
    codes = {norm(m["code_motif"]) for m in read_seed("motifs_sortie.csv")}
    seen = Counter()
    for w in drop["workbooks"]:
        a = w.action
        seen["text_dates" if isinstance(a["debut"], str) else "cell_dates"] += 1
        seen["etp_text_comma"] += isinstance(a["etp"], str) and "," in a["etp"]
        seen["siret_spaced"] += " " in a["siret"]
        for p in w.participants:
            if not blank(p.get("motif")):
                seen["motif_label" if norm(p["motif"]) not in codes else "motif_code"] += 1
            if not blank(p.get("oui")):
                seen["oui:" + str(p["oui"])] += 1
            else:
                seen["oui_blank"] += 1
        wb = CalamineWorkbook.from_path(str(w.path))
        for name in wb.sheet_names:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            if norm(name) == "action":
                first_label_col = next(
                    j
                    for r in rows
                    for j, v in enumerate(r)
                    if not blank(v) and norm(v) == norm("N° convention")
                )
                seen[f"action_label_col_{first_label_col}"] += 1
            else:
                seen["title_above_header"] += not any(norm(v) == "identifiant" for v in rows[0])
                seen["trailing_total"] += any(
                    not blank(r[0] if r else None)
                    and norm(r[0]) == "total"
                    or (len(r) > 1 and norm(r[1]) == "total")
                    for r in rows[-2:]
                )
                seen["extra_columns"] += any(
                    norm(v) in ("sexe", "commune") for r in rows[:10] for v in r
                )
    for key in (
        "text_dates",
        "cell_dates",
        "etp_text_comma",
        "siret_spaced",
        "motif_label",
        "motif_code",
        "oui_blank",
        "action_label_col_0",
        "action_label_col_1",
        "title_above_header",
        "trailing_total",
        "extra_columns",
    ):
        assert seen[key] > 0, key
    assert len({k for k in seen if k.startswith("oui:")}) >= 4  # Oui / OUI / oui / Non / NON / non
