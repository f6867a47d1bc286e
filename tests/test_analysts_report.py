"""The Bilan report regenerated from the published marts (issue 6): content and privacy.

Reuses the session's real run on the committed 2017 drop (``run_2017``): the job writes
``rapport/bilan_2017.html`` right after publishing marts.duckdb.
"""

from __future__ import annotations

import csv
import html as htmllib
import os
import re
import time
from pathlib import Path

import duckdb
import pytest
from analysts_support import fr_int

from dagster_project.reporting import fr, generate

pytestmark = pytest.mark.slow
SEEDS = Path(__file__).resolve().parents[1] / "dbt" / "seeds"


@pytest.fixture(scope="module")
def report_2017(run_2017) -> str:
    path = run_2017.warehouse_dir / "rapport" / "bilan_2017.html"
    assert path.exists(), f"no report written by the job: {sorted(path.parent.glob('*'))}"
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def text_2017(report_2017) -> str:
    """Visible text: tags removed, entities decoded (numbers keep their narrow nbsp)."""
    no_style = re.sub(r"<style.*?</style>", " ", report_2017, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", no_style))


def _published_values():
    out = []
    with (SEEDS / "bilan_publie_chiffres_cles.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            out.append((f"chiffres_cles {r['perimetre']}/{r['indicateur']}", r["valeur"]))
    with (SEEDS / "bilan_publie_synthese.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            for col, v in r.items():
                if col in ("exercice", "code_thematique", "thematique") or v == "":
                    continue
                out.append((f"synthese {r['code_thematique']}/{col}", v))
    return out


def test_every_published_figure_is_in_the_report_formatted_the_french_way(text_2017):
    missing = [(what, v, fr_int(v)) for what, v in _published_values()
               if fr_int(v) not in text_2017]
    assert not missing, f"published figures absent from the report: {missing}"
    # thousands separated by a narrow no-break space, never a plain space or a comma
    assert "12\u202f782" in text_2017 and "15\u202f866\u202f991\u00a0€" in text_2017
    assert not re.search(r"\b\d{1,3},\d{3},\d{3}\b", text_2017)


def test_headline_figures_as_printed(text_2017):
    for expected in [
        "15,87\u00a0M€",  # key figure
        "15,9 millions d’euros",  # "15,9 millions d'euros payés sur le budget 2017"
        "1,60 million d’euros", "3,83 millions d’euros", "10,44 millions d’euros",
        "40,8\u00a0%", "65,8\u00a0%", "10,1\u00a0%", "15,9\u00a0%", "2,4\u00a0%", "10,6\u00a0%",
        "5\u202f378 personnes", "220 actions", "124 partenaires", "477 équivalents temps plein",
        "51 actions déclinées en 7 thématiques", "151 actions déclinées en 11 thématiques",
        "13\u202f203 personnes", "61 référents uniques", "(51 ETP)",
        "plus de 12\u202f000 accueils individuels", "215 problèmes de mobilité résolus",
        "2 CNET coordonnant 31 LAM", "295 certifications",
        "42\u00a0%", "3\u202f800", "RÉPARTITION DES 3\u202f637 FINS D’ACTION".lower(),
    ]:
        assert expected.lower() in text_2017.lower(), expected
    # the exit pies as the published document rounds them (largest remainder): SOC 2/4/49/38/7
    for share in ("49\u00a0%", "38\u00a0%", "7\u00a0%", "24\u00a0%", "18\u00a0%", "20\u00a0%"):
        assert share in text_2017


def test_inconsistent_published_share_is_recomputed_with_a_note(text_2017):
    # 1 335 / (14 604 − 9 145) = 24,5 %, printed 26 % in the published document
    assert "1\u202f335 soit 24,5\u00a0%" in text_2017
    note = re.search(r"Le document publié imprime « 1\u202f335 soit 26 % ».*?24,5\u00a0%",
                     text_2017, re.S)
    assert note, "the note explaining the 26 % -> 24,5 % correction is missing"
    assert "5\u202f459" in text_2017


def test_report_sections_charts_and_quality(report_2017, text_2017):
    for title in ("Synthèse", "Répartition du budget par domaines d’intervention",
                  "Volet social & santé", "Volet professionnel", "Tableau de synthèse",
                  "Qualité des données", "TOTAUX"):
        assert title in text_2017, title
    assert report_2017.count("<svg") >= 5  # budget donut, 2 bar charts, 2 exit donuts
    assert 'lang="fr"' in report_2017
    # checks of the Dagster run and control totals against the published document
    assert re.search(r"\d+ contrôles \(tests dbt", text_2017)
    assert "tous réussis" in text_2017
    assert "152 chiffres" in text_2017 and "tous conformes" in text_2017
    assert "chargé" in text_2017 and "Lignes non chargées" in text_2017
    assert "écartées au profit du classeur plus récent" not in text_2017  # no replaced workbook


def test_report_is_self_contained(report_2017):
    lowered = report_2017.lower()
    for forbidden in ("<script", "<link", "<img", "<iframe", "@import", "url(", "@font-face"):
        assert forbidden not in lowered, forbidden
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", report_2017, re.I)
    assert all(r.startswith("#") for r in refs), refs
    # the only absolute URL is the SVG namespace, which is never fetched
    urls = set(re.findall(r"https?://[^\s\"'<>]+", report_2017))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls


def test_report_has_no_participant_identifier(run_2017, report_2017):
    con = duckdb.connect(str(run_2017.warehouse), read_only=True)
    try:
        ids = {r[0] for r in con.execute(
            "SELECT identifiant FROM raw.raw_participants UNION SELECT identifiant FROM raw.raw_cer"
        ).fetchall()}
        hashed = {r[0] for r in con.execute(
            "SELECT value FROM raw.rejets WHERE value IS NOT NULL").fetchall()}
    finally:
        con.close()
    tokens = set(re.findall(r"[0-9A-Za-z]{5,}", report_2017))
    assert not (tokens & ids)
    assert "sha256:" not in report_2017 and not any(h in report_2017 for h in hashed)
    assert "identifiant" not in report_2017.lower().replace("aucun identifiant", "")


def test_french_formatting_helpers():
    assert fr.entier(12782) == "12\u202f782"
    assert fr.millions_euros(15866991) == "15,87\u00a0M€"
    assert fr.pct(40.83) == "40,8\u00a0%"
    assert fr.pct(40.85) == "40,9\u00a0%"  # half-up on decimals, no float artefact
    assert fr.euros(700133.19) == "700\u202f133,19\u00a0€"
    assert fr.millions_texte(1599425, 2) == "1,60 million d’euros"
    assert fr.parts_plus_fort_reste([84, 159, 1760, 1378, 256]) == [2, 4, 49, 38, 7]
    assert fr.parts_plus_fort_reste([2165, 1635, 1862, 3483]) == [24, 18, 20, 38]
    assert fr.signe_pct(-3.04) == "−3,0\u00a0%"


def test_shares_and_changes_are_printed_from_their_figures_rounded_once():
    """The report printed the marts' percentages (rounded to 2 decimals) to 1 decimal: rounded
    twice, a domain's 55.4455 % (published 55.45) showed 55.5 %, a change of 2.345 % (2.35)
    +2.4 % (cold review). Each is now computed from its figures, as the Total rows were."""
    from decimal import Decimal as D

    from dagster_project.reporting import html
    from dagster_project.reporting.data import Marts

    def theme(code, domaine, montant, prec, acc, acc_prec, ef, ef_prec, fins, fins_prec):
        return {"exercice": 2019, "exercice_precedent": 2018, "code_thematique": code,
                "libelle_thematique": f"Thématique {code}", "code_domaine": domaine,
                "libelle_domaine": f"Domaine {domaine}", "code_type_action": "PRO",
                "nb_actions": 1, "montant_paye_eur": D(montant),
                "montant_paye_eur_precedent": D(prec), "accompagnements": acc,
                "accompagnements_precedent": acc_prec, "sorties_emploi_formation": ef,
                "sorties_emploi_formation_precedent": ef_prec, "fins_accompagnement": fins,
                "fins_accompagnement_precedent": fins_prec,
                # what the marts publish, rounded to 2 decimals: the report must not print these
                "evolution_montant_pct": D("2.35"), "evolution_accompagnements_pct": D("0.15"),
                "taux_sorties_emploi_formation_pct": D("24.45"),
                "taux_sorties_emploi_formation_precedent_pct": D("0.05"),
                "evolution_taux_sorties_emploi_formation_pts": D("24.40")}

    synthese = [theme("A", "EMP", "56", "0", 0, 0, 0, 0, 0, 0),
                theme("B", "IAE", "45", "0", 0, 0, 0, 0, 0, 0)]
    budget = Marts(2019, [2019], {("total", "montant_paye_eur"): D(101),
                                  ("EMP", "part_budget_pct"): D("55.45")}, synthese, [], (0, 0))
    page = html._section_budget(budget)
    assert "55,4\u00a0%" in page and "55,5\u00a0%" not in page  # 56 / 101 = 55.4455 %
    # +2.345 %: +2,3 %; 2 / 1335 = 0.1498 %: +0,1 %; 489 / 2000 = 24.45 %: 24,5 %
    evolution = [theme("A", "EMP", "204690", "200000", 1337, 1335, 489, 1, 2000, 2000)]
    page = html._section_evolution(Marts(2019, [2018, 2019], {}, [], evolution, (0, 0)))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page)
    assert cells[3] == "+2,3\u00a0%" and cells[6] == "+0,1\u00a0%", cells
    assert cells[7:10] == ["0,1\u00a0%", "24,5\u00a0%", "+24,4\u00a0pts"], cells


def test_pdf_skipped_with_a_warning_when_no_browser(run_2017, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("BILAN_CHROMIUM", "0")
    out = generate(run_2017.marts, tmp_path, run_2017.warehouse)
    assert out.html[2017].exists() and not out.pdf
    # the warning says the variable disabled it, not that Chromium is to be installed
    assert any("désactivé par BILAN_CHROMIUM='0'" in w for w in out.warnings), out.warnings
    assert not any("apt-get" in w for w in out.warnings)
    assert any("PDF" in r.getMessage() for r in caplog.records)
    # a report made outside Dagster says so instead of listing the run's checks
    assert "hors d’un run Dagster" in out.html[2017].read_text(encoding="utf-8")


def test_a_missing_chromium_is_told_apart_from_a_misnamed_one(tmp_path, monkeypatch):
    """A PDF made mandatory (``BILAN_RAPPORT_PDF=1``) and no browser: the error says why (a
    ``BILAN_CHROMIUM`` naming no program, or none installed), never "install it" when it is."""
    from dagster_project.reporting import chromium

    monkeypatch.setenv("BILAN_CHROMIUM", str(tmp_path / "pas-de-chromium"))
    with pytest.raises(RuntimeError, match="PDF demandé mais BILAN_CHROMIUM=.*pas-de-chromium"
                                           ".* ne désigne aucun programme"):
        generate(tmp_path / "marts.duckdb", tmp_path / "out", pdf=True)  # before any reading
    monkeypatch.delenv("BILAN_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on it
    assert chromium.find_chromium() is None
    assert "apt-get install -y chromium" in chromium.why_not_found()


def test_deliverables_no_longer_published_are_deleted(run_2017, tmp_path, monkeypatch):
    """An exercise whose folder was removed is no longer in the marts: its report and workbook
    must not stay beside the published ones, nor a PDF of an earlier run that this one does not
    print. Files that are not deliverables are left alone."""
    monkeypatch.setenv("BILAN_CHROMIUM", "0")
    rapport = tmp_path / "rapport"
    rapport.mkdir()
    stale = ["bilan_2019.html", "bilan_2019.pdf", "synthese_2019.xlsx", "bilan_2017.pdf"]
    kept = ["notes.txt", "bilan_2019_annote.html", "synthese_2019.xlsx.bak",
            ".bilan_2017.pdf.tmp"]  # a temporary copy being written (recent): left alone
    for name in stale + kept + [".bilan_2017.pdf.tmp", f".synthese_2017.xlsx.{'a' * 32}.tmp"]:
        (rapport / name).write_text("ancien", encoding="utf-8")
    old = time.time() - 7200  # a killed run's temporary copy: deleted
    os.utime(rapport / f".synthese_2017.xlsx.{'a' * 32}.tmp", (old, old))
    stale.append(f".synthese_2017.xlsx.{'a' * 32}.tmp")
    out = generate(run_2017.marts, tmp_path, run_2017.warehouse)
    assert sorted(p.name for p in out.removed) == sorted(stale)
    assert sorted(p.name for p in rapport.iterdir()) == sorted(
        kept + ["bilan_2017.html", "synthese_2017.xlsx"])


def test_quality_section_lists_refusals_by_reason_without_values(run_2017, tmp_path):
    import shutil

    wh = tmp_path / "bilan.duckdb"
    shutil.copy(run_2017.warehouse, wh)
    con = duckdb.connect(str(wh))
    try:
        con.execute("""
            INSERT INTO raw.manifest (exercice, source_file, file_name, kind, status, detail,
                rows_read, rows_loaded, rows_rejected, replaced_by)
            VALUES (2017, '2017/operateurs/abime.xlsx', 'abime.xlsx', 'operateur', 'rejected',
                    'fichier illisible (BadZipFile)', 12, 0, 12, NULL),
                   (2017, '2017/operateurs/ancien.xlsx', 'ancien.xlsx', 'operateur', 'replaced',
                    NULL, 30, 0, 30, 'nouveau.xlsx'),
                   (2017, '2017/operateurs/v2.xlsx', 'v2.xlsx', 'operateur', 'replaced',
                    'remplacé par v3.xlsx (plus récent ; refusé, voir son rejet : la convention '
                    || 'n''a pas de classeur chargé)', 5, 0, 5, '2017/operateurs/v3.xlsx')""")
        con.execute("""
            INSERT INTO raw.rejets (exercice, source_file, file_name, sheet, row_number,
                column_name, value, reason)
            SELECT 2017, '2017/operateurs/x.xlsx', 'x.xlsx', 'Participants', 10 + i,
                   'Identifiant', 'sha256:0123456789ab' || i, 'Identifiant : vide'
            FROM range(3) t(i)""")
    finally:
        con.close()
    out = generate(run_2017.marts, tmp_path / "out", wh, pdf=False)
    page = out.html[2017].read_text(encoding="utf-8")
    text = htmllib.unescape(re.sub(r"<[^>]+>", " ", page))
    assert "abime.xlsx" in text and "fichier illisible (BadZipFile)" in text
    assert "remplacé par nouveau.xlsx" in text
    # a replaced workbook whose newer version was refused: said (the convention has none)
    assert "la convention n'a pas de classeur chargé" in text
    # a replaced workbook's rows are not loaded, not refused: the report says which is which
    assert "écartées au profit du classeur plus récent de la même convention" in text
    assert re.search(r"x\.xlsx\s+Participants\s+Identifiant\s+Identifiant : vide\s+3\s+10", text)
    assert "sha256:" not in page and "0123456789ab" not in page


def _fake_chromium(tmp_path, script: str) -> str:
    """A stand-in for the browser binary: records its arguments, then runs ``script``."""
    exe = tmp_path / "fake-chromium"
    exe.write_text(
        "#!/bin/bash\n"
        f'echo "$*" >> {tmp_path}/calls\n'
        'out=""; for a in "$@"; do case "$a" in --print-to-pdf=*) out="${a#*=}";; esac; done\n'
        + script
    )
    exe.chmod(0o755)
    return str(exe)


def test_pdf_printed_in_one_browser_process_first(tmp_path):
    from dagster_project.reporting.chromium import print_pdf

    exe = _fake_chromium(tmp_path, 'printf "%%PDF-1.4 one" > "$out"\n')
    page = tmp_path / "r.html"
    page.write_text("<p>bilan</p>")
    pdf = print_pdf(page, tmp_path / "out" / "r.pdf", exe)
    assert pdf.read_bytes() == b"%PDF-1.4 one"
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 1 and "--single-process" in calls[0]


def test_pdf_falls_back_to_the_default_process_model(tmp_path):
    """--single-process is a debugging mode for Chromium: if it fails, the default still prints."""
    from dagster_project.reporting.chromium import print_pdf

    exe = _fake_chromium(
        tmp_path,
        'case "$*" in *--single-process*) echo "crashed" >&2; exit 3;; esac\n'
        'printf "%%PDF-1.4 default" > "$out"\n',
    )
    page = tmp_path / "r.html"
    page.write_text("<p>bilan</p>")
    assert print_pdf(page, tmp_path / "r.pdf", exe).read_bytes() == b"%PDF-1.4 default"
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 2 and "--single-process" not in calls[1]
    assert not list(tmp_path.glob(".r.pdf.tmp"))


def test_pdf_failure_names_both_attempts(tmp_path):
    from dagster_project.reporting.chromium import print_pdf

    exe = _fake_chromium(tmp_path, 'echo "no display" >&2; exit 1\n')
    page = tmp_path / "r.html"
    page.write_text("<p>bilan</p>")
    with pytest.raises(
        RuntimeError, match=r"--single-process --no-zygote: exit 1.*default: exit 1"
    ):
        print_pdf(page, tmp_path / "r.pdf", exe)
    assert not (tmp_path / "r.pdf").exists()


def test_run_checks_said_to_cover_every_published_exercise():
    """A run checks every exercise it publishes at once: the 2017 report of a run that also
    published 2019 counted 2019's failed payment check as one of its own, without saying so
    (found by a cold analyst review). Not a Dagster run: the section alone, on plain data."""
    from dagster_project.reporting import html as report_html
    from dagster_project.reporting.data import Marts, Qualite

    checks = [
        {"asset": "raw/raw_mandats", "check": "paiements_comptes", "passed": False,
         "severity": "WARN", "famille": "Paiements comptés (avertissement)",
         "description": "exercice 2019 : 1 paiement(s) refusé(s)"},
        {"asset": "marts/fct_actions", "check": "unique", "passed": True, "severity": "ERROR",
         "famille": "Tests dbt", "description": ""},
    ]
    q = Qualite(disponible=False, erreur="-", checks_dagster=checks)

    def section(exercices: list[int]) -> str:
        m = Marts(exercice=2017, exercices_charges=exercices, chiffres={}, synthese=[],
                  evolution=[], periode=(2017, 2018))
        return htmllib.unescape(re.sub(r"<[^>]+>", " ", report_html._section_qualite(m, q)))

    both = section([2017, 2019])
    assert "1 réussis" in both and "1 en échec" in both
    assert "tous les exercices publiés par le run (2017, 2019), pas seulement 2017" in both
    assert "tous les exercices publiés" not in section([2017])
