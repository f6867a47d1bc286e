"""Tests of the Great Expectations suites (dagster_project.checks.gx_suites)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from dagster_project.checks import gx_suites
from dagster_project.checks.gx_suites import run_suite

os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("DO_NOT_TRACK", "1")

ROOT = Path(__file__).resolve().parents[1]

PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
COMPOUND = "expect_compound_columns_to_be_unique"
IN_SET = "expect_column_values_to_be_in_set"
BETWEEN = "expect_column_values_to_be_between"
REGEX = "expect_column_values_to_match_regex"
NOT_NULL = "expect_column_values_to_not_be_null"


# --------------------------------------------------------------------------- frames
# Built through DuckDB so that dtypes are those the pipeline gets from `.df()`
# (Int64 / boolean nullable, datetime64, pandas str).


def participants_frame(n: int = 60) -> pd.DataFrame:
    return duckdb.sql(f"""
        select 2017::INTEGER as exercice,
               'PDI-2017-' || lpad(((i % 3) + 1)::VARCHAR, 4, '0') as num_convention,
               'P' || lpad(i::VARCHAR, 6, '0') as identifiant,
               DATE '2017-01-01' + (i % 90)::INTEGER as date_entree,
               case when i % 3 = 0 then DATE '2017-06-01' + (i % 90)::INTEGER end as date_sortie,
               case when i % 3 = 0 then 'emploi durable' end as motif_sortie_brut,
               case when i % 3 = 0 then 'ID-EMPLOI' end as code_motif,
               case when i % 5 = 0 then true when i % 5 = 1 then false end
                   as mise_en_parcours_en_cours,
               '2017/operateurs/action_' || (i % 3) || '.xlsx' as source_file,
               'Participants' as source_sheet,
               (i // 3 + 2)::INTEGER as source_row,
               'deadbeef' as file_sha256,
               TIMESTAMP '2018-01-15 02:00:00' as loaded_at,
               'run-1' as run_id
        from range({n}) t(i)
    """).df()


def mandats_frame() -> pd.DataFrame:
    return duckdb.sql("""
        select 2017::INTEGER as exercice,
               'M' || lpad(i::VARCHAR, 5, '0') as num_mandat,
               DATE '2017-02-01' + i::INTEGER as date_emission,
               'PDI-2017-' || lpad(((i % 4) + 1)::VARCHAR, 4, '0') as num_convention,
               'ASSOCIATION ' || (i % 4) as tiers,
               '1234567890123' || (i % 4) as siret,
               case i % 4 when 0 then 'Avance' when 1 then 'Solde' when 2 then 'Avenant'
                          else 'Annulation' end as nature,
               (case when i % 4 = 3 then -250.5 else 10000 + i end)::DECIMAL(14, 2) as montant,
               '2017/finances/mandats_2017.csv' as source_file,
               NULL::VARCHAR as source_sheet,
               (i + 2)::INTEGER as source_row,
               'cafe' as file_sha256,
               TIMESTAMP '2018-01-15 02:00:00' as loaded_at,
               'run-1' as run_id
        from range(40) t(i)
    """).df()


def synthese_frame(exercices: tuple[int, ...] = (2017,)) -> pd.DataFrame:
    them = pd.read_csv(ROOT / "dbt" / "seeds" / "thematiques.csv", dtype=str)
    years = ", ".join(f"({e})" for e in exercices)
    con = duckdb.connect()
    con.register("them", them)
    df = con.sql(f"""
        select e.exercice::INTEGER as exercice, t.code_thematique, t.libelle_thematique,
               t.code_domaine, t.libelle_domaine, t.code_type_action,
               10::BIGINT as nb_actions,
               123456.78::DECIMAL(14, 2) as montant_paye_eur,
               case when t.nature = 'accompagnement' then 100 end::BIGINT as accompagnements,
               case when t.nature = 'accompagnement' then 60 end::BIGINT as fins_accompagnement,
               case when t.nature = 'accompagnement' then 20 end::BIGINT as insertions_durables,
               case when t.nature = 'accompagnement' then 5 end::BIGINT as mises_en_parcours,
               case when t.nature = 'accompagnement' then 25 end::BIGINT
                   as sorties_emploi_formation
        from (values {years}) e(exercice) cross join them t
        order by 1, 2
    """).df()
    con.close()
    return df


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def gx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("warehouse") / "gx"


def failures(result: gx_suites.SuiteResult) -> set[tuple[str, tuple[str, ...]]]:
    return {(o.expectation_type, o.columns) for o in result.failures}


def assert_only_failure(result, etype: str, columns: tuple[str, ...], count: int | None = None):
    assert result.success is False
    assert result.error_message is None
    assert failures(result) == {(etype, columns)}, result.summary()
    if count is not None:
        (outcome,) = result.failures
        assert outcome.unexpected_count == count


# --------------------------------------------------------------------------- import cost


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter (imports measured from scratch); it must exit 0."""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_module_import_does_not_import_great_expectations():
    _fresh_python(
        "import sys, dagster_project.checks.gx_suites as m; "
        "bad = [k for k in sys.modules if k.startswith(('great_expectations', 'dagster.'))"
        " or k == 'dagster']; "
        "print(bad); sys.exit(1 if bad else 0)"
    )


def test_import_in_background_imports_gx_once():
    """The dbt asset starts GX's import in a thread (it overlaps dbt's subprocess): afterwards GX
    is imported and usable, and a second call starts nothing."""
    proc = _fresh_python(
        "import sys, dagster_project.checks.gx_suites as m; "
        "t = m.import_in_background(); assert t is not None and t.daemon; t.join(); "
        "assert 'great_expectations.expectations' in sys.modules; "
        "assert m.import_in_background() is None; "
        "gxe, _ = m._gx_expectations(); print(gxe.ExpectTableRowCountToBeBetween.__name__)"
    )
    assert "ExpectTableRowCountToBeBetween" in proc.stdout


# --------------------------------------------------------------------------- participants


def test_participants_good_frame_passes_and_builds_docs(gx_dir):
    result = run_suite("participants", participants_frame(), gx_dir=gx_dir)
    assert result.success, result.summary()
    assert result.error_message is None
    assert len(result.outcomes) == len(gx_suites.build_expectations("participants"))
    assert all(
        o.unexpected_count is not None or o.observed_value is not None for o in result.outcomes
    )
    index = result.data_docs_index
    assert index is not None and index.name == "index.html" and index.is_file()
    assert index.is_relative_to(gx_dir)
    assert "participants" in index.read_text(encoding="utf-8")


def test_participants_exit_before_entry_fails(gx_dir):
    df = participants_frame()
    df.loc[0, "date_sortie"] = df.loc[0, "date_entree"] - pd.Timedelta(days=1)
    result = run_suite("participants", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, PAIR, ("date_sortie", "date_entree"), 1)
    assert result.data_docs_index is None


def test_participants_unknown_motif_fails(gx_dir):
    df = participants_frame()
    df.loc[3, "code_motif"] = "XX-INCONNU"
    result = run_suite("participants", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, IN_SET, ("code_motif",), 1)


def test_participants_duplicate_lineage_fails(gx_dir):
    df = participants_frame()
    df.loc[1, ["source_file", "source_sheet", "source_row"]] = df.loc[
        0, ["source_file", "source_sheet", "source_row"]
    ].to_list()
    result = run_suite("participants", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, COMPOUND, ("source_file", "source_sheet", "source_row"), 2)


def test_participants_bad_convention_and_missing_identifier_fail(gx_dir):
    df = participants_frame()
    df.loc[0, "num_convention"] = "PDI-17-1"
    df.loc[1, "identifiant"] = None
    df.loc[2, "identifiant"] = "   "
    df.loc[4, "date_entree"] = pd.NaT
    result = run_suite("participants", df, gx_dir=gx_dir, build_docs=False)
    assert result.success is False
    assert failures(result) == {
        (REGEX, ("num_convention",)),
        (IN_SET, ("identifiant_present",)),
        (NOT_NULL, ("date_entree",)),
    }, result.summary()
    by_col = {o.columns: o for o in result.failures}
    assert by_col[("identifiant_present",)].unexpected_count == 2


def test_participants_empty_frame_fails(gx_dir):
    result = run_suite(
        "participants", participants_frame().iloc[0:0], gx_dir=gx_dir, build_docs=False
    )
    assert_only_failure(result, "expect_table_row_count_to_be_between", ())
    assert result.failures[0].observed_value == 0


# --------------------------------------------------------------------------- mandats


def test_mandats_good_frame_passes(gx_dir):
    result = run_suite("mandats", mandats_frame(), gx_dir=gx_dir)
    assert result.success, result.summary()
    assert result.data_docs_index is not None and result.data_docs_index.is_file()


def test_mandats_accepts_montant_eur_column_name(gx_dir):
    df = mandats_frame().rename(columns={"montant": "montant_eur"})
    result = run_suite("mandats", df, gx_dir=gx_dir, build_docs=False)
    assert result.success, result.summary()


def test_mandats_duplicate_num_mandat_fails(gx_dir):
    df = mandats_frame()
    df.loc[1, "num_mandat"] = df.loc[0, "num_mandat"]
    result = run_suite("mandats", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, COMPOUND, ("exercice", "num_mandat"), 2)


def test_mandats_negative_solde_fails(gx_dir):
    df = mandats_frame()
    assert df.loc[1, "nature"] == "Solde"
    df.loc[1, "montant"] = -100.0
    result = run_suite("mandats", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, BETWEEN, ("montant",), 1)
    assert "seule une Annulation" in result.failures[0].description


def test_a_failed_mandats_expectation_says_where_and_what_was_expected(gx_dir):
    """The data engineer reads which line of which export breaks which rule, observed vs
    expected (the failure said 'observé None', with neither line nor bound)."""
    df = mandats_frame()
    df.loc[1, "montant"] = -100.0  # a Solde, line 3 of the export
    df.loc[5, "montant"] = -7.0  # another Solde, line 7
    result = run_suite("mandats", df, gx_dir=gx_dir, build_docs=False)
    (o,) = result.failures
    assert o.examples == ("2017/finances/mandats_2017.csv ligne 3",
                          "2017/finances/mandats_2017.csv ligne 7")
    assert (o.observed, o.attendu) == ("2 ligne(s) hors règle", "≥ 0")
    line = result.summary().splitlines()[1]
    assert "seule une Annulation peut être négative" in line and "ligne 3" in line, line
    assert "observé 2 ligne(s) hors règle / attendu ≥ 0" in line, line
    assert "-100" not in line and "-7" not in line  # where, never the value
    from dagster_project.sensors.alerts import observed

    md = {"failed": [{"rule": o.description, "expectation": o.expectation_type,
                      "observed": o.observed, "expected": o.attendu,
                      "examples": list(o.examples)}]}
    assert observed(md) == (
        "1 expectation(s) en échec : seule une Annulation peut être négative : observé 2 ligne(s) "
        "hors règle / attendu ≥ 0 (ex. 2017/finances/mandats_2017.csv ligne 3 ; "
        "2017/finances/mandats_2017.csv ligne 7)")


def test_stored_results_hold_counts_only_even_when_rows_are_located(tmp_path):
    """The examples are asked of GX in memory: the stored results and Data Docs keep no value
    of any suite (a run that stored samples of the mandates kept an amount equal to a participant
    number), and no participant row is named, even by lineage."""
    gx_dir = tmp_path / "gx"
    df = mandats_frame()
    df.loc[1, "montant"] = -24963463.0  # a number that could be anybody's identifier
    located = run_suite("mandats", df, gx_dir=gx_dir)
    assert located.failures[0].examples == ("2017/finances/mandats_2017.csv ligne 3",)
    p = participants_frame()
    p.loc[0, "date_sortie"] = p.loc[0, "date_entree"] - pd.Timedelta(days=5)
    counted = run_suite("participants", p, gx_dir=gx_dir)
    (o,) = counted.failures
    assert o.examples == () and o.observed == "1 ligne(s) hors règle"
    stored = [f for f in gx_dir.rglob("*") if f.is_file() and f.suffix in (".json", ".html")]
    assert any("validations" in f.parts for f in stored)
    for f in stored:
        text = f.read_text(errors="replace")
        assert "24963463" not in text and "partial_unexpected_index_list" not in text, f
        samples = re.findall(r'"partial_unexpected_list": (\[[^\]]*\])', text)
        assert set(samples) <= {"[]"}, (f, samples)


def test_mandats_positive_annulation_fails(gx_dir):
    df = mandats_frame()
    assert df.loc[3, "nature"] == "Annulation"
    df.loc[3, "montant"] = 100.0
    result = run_suite("mandats", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, BETWEEN, ("montant",), 1)
    assert "une Annulation est négative" in result.failures[0].description


def test_mandats_bad_nature_siret_and_huge_amount_fail(gx_dir):
    df = mandats_frame()
    df.loc[0, "nature"] = "Remboursement"
    df.loc[2, "siret"] = "123 456 789"
    df.loc[4, "montant"] = 25_000_000.0
    result = run_suite("mandats", df, gx_dir=gx_dir, build_docs=False)
    assert result.success is False
    assert failures(result) == {
        (IN_SET, ("nature",)),
        (REGEX, ("siret",)),
        (BETWEEN, ("montant",)),
    }, result.summary()


def _set(column, value, row=0):
    def mutate(df):
        df.loc[row, column] = value
        return df
    return mutate


def _copy_lineage(df):
    df.loc[1, "source_row"] = df.loc[0, "source_row"]
    return df


MANDATS_RULES = [
    # each rule of the suite broken alone: exactly its expectation fails
    pytest.param(_set("num_convention", "PDI-17-1"), REGEX, ("num_convention",), id="convention"),
    pytest.param(_copy_lineage, COMPOUND, ("source_file", "source_row"), id="lignage"),
    # an Annulation of 20 M€ (a typo): negative, as an Annulation must be, but out of bounds
    pytest.param(_set("montant", -20_000_000.0, row=3), BETWEEN, ("montant",), id="minimum"),
    pytest.param(lambda df: df.iloc[0:0], "expect_table_row_count_to_be_between", (),
                 id="vide"),
    *(pytest.param(_set(c, None), NOT_NULL, (c,), id=f"{c}_nul")
      for c in ("exercice", "num_mandat", "date_emission", "num_convention", "nature",
                "montant", "source_file", "source_row")),
]


@pytest.mark.parametrize(("mutate", "etype", "columns"), MANDATS_RULES)
def test_each_mandats_rule_fails_alone(gx_dir, mutate, etype, columns):
    result = run_suite("mandats", mutate(mandats_frame()), gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, etype, columns)


# --------------------------------------------------------------------------- synthese


def test_synthese_good_frame_passes_for_two_exercices(gx_dir):
    df = synthese_frame((2017, 2018))
    assert len(df) == 38
    result = run_suite("synthese_thematiques", df, gx_dir=gx_dir)
    assert result.success, result.summary()
    row_count = next(
        o for o in result.outcomes if o.expectation_type == "expect_table_row_count_to_equal"
    )
    assert row_count.observed_value == 38


SYNTHESE_RULES = [
    pytest.param(lambda df: df.iloc[0:0], "expect_table_row_count_to_be_between", (),
                 id="vide"),
    *(pytest.param(_set(c, None), NOT_NULL, (c,), id=f"{c}_nul")
      for c in ("exercice", "code_thematique", "code_type_action")),
]


@pytest.mark.parametrize(("mutate", "etype", "columns"), SYNTHESE_RULES)
def test_each_synthese_rule_fails_alone(gx_dir, mutate, etype, columns):
    df = mutate(synthese_frame())
    result = run_suite("synthese_thematiques", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, etype, columns)


def test_synthese_18_rows_fails(gx_dir):
    df = synthese_frame().iloc[1:]
    result = run_suite("synthese_thematiques", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, "expect_table_row_count_to_equal", ())
    assert result.failures[0].observed_value == 18


def test_synthese_missing_thematic_in_one_exercice_fails(gx_dir):
    df = synthese_frame((2017, 2018))
    df = df.drop(index=df.index[df.exercice == 2018][0])
    result = run_suite("synthese_thematiques", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, "expect_table_row_count_to_equal", ())
    # it said "expect_table_row_count_to_equal(None) observé 37", not what was expected
    assert "observé 37 / attendu 38" in result.summary(), result.summary()


def test_synthese_fins_above_accompagnements_fails(gx_dir):
    df = synthese_frame()
    i = df.index[df.accompagnements.notna()][0]
    df.loc[i, "fins_accompagnement"] = df.loc[i, "accompagnements"] + 1
    result = run_suite("synthese_thematiques", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, PAIR, ("accompagnements", "fins_accompagnement"), 1)


def test_synthese_sorties_above_fins_fails(gx_dir):
    df = synthese_frame()
    i = df.index[df.accompagnements.notna()][0]
    df.loc[i, "sorties_emploi_formation"] = 61
    result = run_suite("synthese_thematiques", df, gx_dir=gx_dir, build_docs=False)
    assert_only_failure(result, PAIR, ("fins_accompagnement", "sorties_emploi_formation"), 1)


def test_synthese_bad_codes_and_negative_values_fail(gx_dir):
    df = synthese_frame()
    df.loc[0, "code_type_action"] = "XXX"
    df.loc[1, "code_thematique"] = "PRO-INCONNU"
    df.loc[2, "nb_actions"] = -1
    df.loc[3, "montant_paye_eur"] = -0.01
    result = run_suite("synthese_thematiques", df, gx_dir=gx_dir, build_docs=False)
    assert failures(result) == {
        (IN_SET, ("code_type_action",)),
        (IN_SET, ("code_thematique",)),
        (BETWEEN, ("nb_actions",)),
        (BETWEEN, ("montant_paye_eur",)),
    }, result.summary()


def test_synthese_duplicate_key_fails(gx_dir):
    df = synthese_frame()
    df.loc[1, "code_thematique"] = df.loc[0, "code_thematique"]
    result = run_suite("synthese_thematiques", df, gx_dir=gx_dir, build_docs=False)
    assert (COMPOUND, ("exercice", "code_thematique")) in failures(result)


# --------------------------------------------------------------------------- errors


def test_missing_column_is_a_failure_not_a_pass(gx_dir):
    df = participants_frame().drop(columns=["date_sortie"])
    result = run_suite("participants", df, gx_dir=gx_dir, build_docs=False)
    assert result.success is False
    (outcome,) = result.failures
    assert outcome.columns == ("date_sortie", "date_entree")
    assert outcome.column == "date_sortie, date_entree"
    assert outcome.error_message and "date_sortie" in outcome.error_message


def test_missing_exercice_column_fails_synthese(gx_dir):
    df = synthese_frame().drop(columns=["exercice"])
    result = run_suite("synthese_thematiques", df, gx_dir=gx_dir, build_docs=False)
    assert result.success is False
    assert any(o.error_message for o in result.failures)


@pytest.mark.parametrize(
    ("name", "df"),
    [("participants", None), ("participants", "not a frame"), ("no_such_suite", pd.DataFrame())],
)
def test_garbage_input_returns_failure_without_raising(gx_dir, name, df):
    result = run_suite(name, df, gx_dir=gx_dir, build_docs=False)
    assert result.success is False
    assert result.error_message


def test_gx_context_failure_returns_failure(tmp_path):
    gx_dir = tmp_path / "gx"
    (gx_dir / "gx").mkdir(parents=True)
    (gx_dir / "gx" / "great_expectations.yml").write_text("config_version: [unreadable\n")
    result = run_suite("mandats", mandats_frame(), gx_dir=gx_dir)
    assert result.success is False
    assert result.error_message


def test_result_without_value_counts_as_failed():
    def fake(etype, result, success=True, exception_info=None):
        return SimpleNamespace(
            success=success,
            result=result,
            exception_info=exception_info or {"raised_exception": False},
            expectation_config=SimpleNamespace(type=etype, kwargs={"column": "x"}, notes="d"),
        )

    outcome = gx_suites._outcome
    assert outcome(fake(NOT_NULL, {"element_count": 3, "unexpected_count": 0})).success
    assert not outcome(fake(NOT_NULL, {})).success
    assert not outcome(fake(NOT_NULL, {"element_count": 3})).success
    assert not outcome(fake("expect_table_row_count_to_equal", {"observed_value": None})).success
    raised = {"m": {"raised_exception": True, "exception_message": "boom"}}
    bad = outcome(fake(NOT_NULL, {"unexpected_count": 0}, exception_info=raised))
    assert not bad.success and bad.error_message == "boom"


# --------------------------------------------------------------------------- personal data


def test_participant_identifier_never_leaks(tmp_path):
    secret = "ZZ-SECRET-4242"
    df = participants_frame()
    df["identifiant"] = df["identifiant"].astype(object)
    rows = [0, 3, 6]
    df.loc[rows, "identifiant"] = secret
    df.loc[0, "date_sortie"] = df.loc[0, "date_entree"] - pd.Timedelta(days=5)  # exit < entry
    df.loc[3, "code_motif"] = secret  # a motif column quoting the id
    df.loc[6, "num_convention"] = secret  # bad convention number quoting the id
    df.loc[6, "motif_sortie_brut"] = secret
    df.loc[1, ["source_file", "source_sheet", "source_row"]] = df.loc[
        0, ["source_file", "source_sheet", "source_row"]
    ].to_list()
    gx_dir = tmp_path / "gx"

    result = run_suite("participants", df, gx_dir=gx_dir)
    assert result.success is False
    assert len(result.failures) >= 4, result.summary()
    assert result.data_docs_index is not None and result.data_docs_index.is_file()
    assert secret not in repr(result) and secret not in result.summary()

    files = [p for p in gx_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" and "validations" in p.parts for p in files)
    assert any(p.suffix == ".html" and "validations" in p.parts for p in files)
    leaks = [p for p in files if secret.encode() in p.read_bytes()]
    assert leaks == []
    # the check itself works: the id is findable when written in clear
    assert "P000001" in df["identifiant"].to_list()
    assert all(b"P000001" not in p.read_bytes() for p in files)


def test_redaction_of_messages_quoting_an_identifier():
    outcome = gx_suites.ExpectationOutcome("t", ("c",), False, error_message="bad ZZ-SECRET-1")
    result = gx_suites.SuiteResult("participants", False, [outcome], error_message="x ZZ-SECRET-1")
    cleaned = gx_suites._redact(result, {"ZZ-SECRET-1"})
    assert "ZZ-SECRET-1" not in repr(cleaned)


# --------------------------------------------------------------------------- the checks' read path


def _bad_participants():
    df = participants_frame()
    df.loc[0, "date_sortie"] = df.loc[0, "date_entree"] - pd.Timedelta(days=1)
    df.loc[3, "code_motif"] = "XX-INCONNU"
    df.loc[5, "num_convention"] = "PDI-17-1"
    df.loc[1, "identifiant"] = None
    df.loc[2, "identifiant"] = "   "
    df.loc[8, "identifiant"] = "\t"
    df.loc[9, "identifiant"] = "\r\n"
    df.loc[10, "identifiant"] = "\u00a0\u202f"  # no-break spaces
    df.loc[7, ["source_file", "source_sheet", "source_row"]] = df.loc[
        6, ["source_file", "source_sheet", "source_row"]
    ].to_list()
    return df


def _bad_mandats():
    df = mandats_frame()
    df.loc[1, "num_mandat"] = df.loc[0, "num_mandat"]
    df.loc[0, "nature"] = "Remboursement"
    df.loc[2, "siret"] = "123 456 789"
    df.loc[4, "montant"] = 25_000_000.0
    return df


def _bad_synthese():
    df = synthese_frame()
    df.loc[0, "code_type_action"] = "XXX"
    df.loc[2, "nb_actions"] = -1
    i = df.index[df.accompagnements.notna()][0]
    df.loc[i, "fins_accompagnement"] = df.loc[i, "accompagnements"] + 1
    return df


@pytest.mark.parametrize(
    ("name", "make", "good"),
    [
        ("participants", participants_frame, True),
        ("participants", _bad_participants, False),
        ("mandats", mandats_frame, True),
        ("mandats", _bad_mandats, False),
        ("synthese_thematiques", synthese_frame, True),
        ("synthese_thematiques", _bad_synthese, False),
    ],
)
def test_check_read_path_gives_the_same_verdicts(gx_dir, name, make, good):
    """The asset checks read the relation with read_frame (checked columns only, categoricals,
    identifier reduced in SQL): every expectation must judge it exactly as the plain frame."""
    df = make()
    con = duckdb.connect()
    con.execute("CREATE TABLE rel AS SELECT * FROM df")
    if name == "mandats":  # the staging model types the amount as a decimal
        con.execute("ALTER TABLE rel ALTER montant TYPE DECIMAL(14, 2)")
    read = gx_suites.read_frame(con, name, "rel")
    assert "identifiant" not in read.columns
    direct = run_suite(name, df, gx_dir=gx_dir, build_docs=False)
    via = run_suite(name, read, gx_dir=gx_dir, build_docs=False)
    assert via.success is direct.success is good, via.summary()
    assert via.error_message is None
    assert failures(via) == failures(direct)
    assert [o.unexpected_count for o in via.outcomes] == [
        o.unexpected_count for o in direct.outcomes
    ]
    if not good:
        assert len(failures(via)) >= 3
    if name == "participants" and not good:  # None, spaces, tab, CR LF, no-break spaces
        by_col = {o.columns: o for o in via.failures}
        assert by_col[("identifiant_present",)].unexpected_count == 5


def test_read_frame_without_a_needed_column_fails_the_suite(gx_dir):
    df = participants_frame().drop(columns=["date_sortie", "identifiant"])  # noqa: F841
    con = duckdb.connect()
    con.execute("CREATE TABLE rel AS SELECT * FROM df")
    result = run_suite("participants", gx_suites.read_frame(con, "participants", "rel"),
                       gx_dir=gx_dir, build_docs=False)
    assert result.success is False
