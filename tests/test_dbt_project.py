"""The dbt project (dbt/) on hand-written raw fixtures (dbt/dev/).

The `dbt build` runs share one target dir (one full parse, then partial parsing):
  1. green: exercice 2099 (no published figures → no control row) + a 2017 that reproduces
     every published figure → every test passes, all 2017 controls are `ok`;
  2. green 2099 (built once, its file copied back before each tampering), then rows of each
     layer tampered with and `dbt test` on the tests guarding them (those a failing staging
     test would skip in 3) → exactly those tests fail, and only failing tests keep their rows;
     then again for every other custom test, one tampered row each, named by its failing rows;
  3. broken rules on 2099 → exactly the guarding tests fail;
  4. a tiny 2017 off the published totals → only the control-total test fails, and its
     stored failures say which figure, published vs computed (a lower bound missed too).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
DBT_DIR = ROOT / "dbt"
DBT = Path(sys.executable).with_name("dbt")

sys.path.insert(0, str(DBT_DIR / "dev"))
import build_fixture  # noqa: E402

CONTROL_TEST = "fct_controles_publies_conformes_au_bilan_publie"


@pytest.fixture(scope="module")
def dbt_env(tmp_path_factory):
    base = tmp_path_factory.mktemp("dbt")
    warehouse = base / "warehouse"
    env = {
        **os.environ,
        "BILAN_WAREHOUSE_DIR": str(warehouse),
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return {"base": base, "warehouse": warehouse, "env": env}


def _dbt(dbt_env, *args: str) -> tuple[int, dict[str, str], str]:
    """Run dbt with ``args`` on the module's warehouse and target dir.

    Returns (exit code, {node name: status}, output)."""
    target = dbt_env["base"] / "target"
    proc = subprocess.run(
        [str(DBT), *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
         "--target-path", str(target), "--log-path", str(dbt_env["base"] / "logs")],
        cwd=DBT_DIR, env=dbt_env["env"], capture_output=True, text=True, timeout=300)
    results = json.loads((target / "run_results.json").read_text())["results"]
    statuses = {r["unique_id"].split(".")[2]: r["status"] for r in results}
    return proc.returncode, statuses, proc.stdout + proc.stderr


def dbt_build(dbt_env, *fixtures: str) -> tuple[int, dict[str, str], str]:
    """Rebuild the raw warehouse with the given fixtures, run `dbt build`."""
    build_fixture.build(dbt_env["warehouse"], *fixtures)
    return _dbt(dbt_env, "build", "--threads", "4")


@pytest.fixture(scope="module")
def green_2099(dbt_env) -> dict[str, str]:
    """The 2099 fixture built green once, kept aside: each tampering test starts from a fresh
    copy of it (:func:`restore`) rather than from a `dbt build` of its own (25 s each)."""
    rc, statuses, out = dbt_build(dbt_env)
    assert rc == 0, out
    shutil.copyfile(dbt_env["warehouse"] / "bilan.duckdb", dbt_env["base"] / "green_2099.duckdb")
    return statuses


def restore(dbt_env) -> None:
    """The warehouse as the green 2099 build left it (its copy, taken with every connection
    closed; a WAL a tampering left beside the file would be replayed onto it)."""
    db = dbt_env["warehouse"] / "bilan.duckdb"
    db.with_name(db.name + ".wal").unlink(missing_ok=True)
    shutil.copyfile(dbt_env["base"] / "green_2099.duckdb", db)


def warned_views(dbt_env, statuses: dict[str, str]) -> set[str]:
    """The failing-row views of the tests that warned in a build."""
    stored = stored_failures(dbt_env)
    return {stored[name] for name, status in statuses.items() if status == "warn"}


def dbt_test(dbt_env, *tests: str) -> tuple[int, dict[str, str], str]:
    """`dbt test --select` the named tests on the warehouse as it is (after a tampering)."""
    return _dbt(dbt_env, "test", "--select", *tests)


def connect(dbt_env) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(dbt_env["warehouse"] / "bilan.duckdb"), read_only=True)


def failing(statuses: dict[str, str]) -> set[str]:
    return {name for name, status in statuses.items() if status in {"fail", "error"}}


def stored_failures(dbt_env) -> dict[str, str]:
    """Test name → the relation its failing rows are stored in (dbt cuts and hashes long names:
    its manifest says)."""
    manifest = json.loads((dbt_env["base"] / "target" / "manifest.json").read_text())
    return {n["name"]: n["relation_name"] for n in manifest["nodes"].values()
            if n["resource_type"] == "test"}


def audit_views(dbt_env) -> set[str]:
    """The relations of schema dbt_test__audit, as the manifest names them."""
    with connect(dbt_env) as con:
        return {f'"bilan"."dbt_test__audit"."{name}"' for (name,) in con.sql(
            "select table_name from information_schema.tables "
            "where table_schema = 'dbt_test__audit'").fetchall()}


def test_green_build_and_published_2017_controls_ok(dbt_env):
    rc, statuses, out = dbt_build(dbt_env, "2017_conforme")
    assert rc == 0, out
    assert not failing(statuses), out
    assert {"warn"} >= {s for s in statuses.values()} - {"pass", "success"}, out
    # a passing test stores no failing rows; a warning keeps its rows in view
    # (dbt/macros/materializations/test.sql)
    assert audit_views(dbt_env) == warned_views(dbt_env, statuses), out
    with connect(dbt_env) as con:
        schemas = {
            r[0]
            for r in con.sql("select schema_name from information_schema.schemata").fetchall()
        }
        assert {"raw", "seeds", "staging", "intermediate", "marts"} <= schemas
        assert not any(s.startswith("main_") for s in schemas)
        # every thematic of the nomenclature, for each exercice, even with no action
        assert con.sql(
            "select exercice, count(*) from marts.fct_synthese_thematiques group by all order by 1"
        ).fetchall() == [(2017, 19), (2099, 19)]
        # 2099 has no published figures: no control rows; 2017: every published number ok
        assert con.sql(
            "select exercice, statut, count(*) from marts.fct_controles_publies group by all"
        ).fetchall() == [(2017, "ok", 152)]
        # 2099 figures from the hand-written rows
        cles = dict(con.sql(
            "select perimetre || '/' || indicateur, valeur from marts.fct_chiffres_cles "
            "where exercice = 2099"
        ).fetchall())
        assert cles["total/nb_actions"] == 5
        assert cles["total/nb_partenaires"] == 4  # operator A holds two conventions
        assert float(cles["total/montant_paye_eur"]) == 26500.24  # net of a -500.25 annulation
        assert cles["RU/personnes_cer"] == 3 and cles["RU/personnes_accompagnement_social"] == 1
        assert cles["PRO/en_cours_avec_mise_en_parcours"] == 1
        assert cles["total/personnes_reprise_activite"] == 3
        # ETP declared beyond the hundredth (2.333 and '=1/3', PRO): published so per action,
        # the key figures round their sum once, so they equal the sum of `actions`, rounded
        # (the actions were rounded to 2.33 and 0.33 beside a PRO figure of 2.67)
        assert cles["PRO/etp"] == Decimal("2.67") and cles["total/etp"] == Decimal("7.92")
        assert con.sql(
            "select sum(etp) from marts.fct_actions where exercice = 2099"
        ).fetchone() == (Decimal("7.916333"),)
        assert cles["SOC-NUM/certifications_delivrees"] == 12
        # NULL for non-accompaniment thematics, 0 for an accompaniment thematic with none
        synthese = dict(con.sql(
            "select code_thematique, accompagnements from marts.fct_synthese_thematiques "
            "where exercice = 2099"
        ).fetchall())
        assert synthese["RU"] is None and synthese["PRO-PART"] is None
        assert synthese["SAN-INF"] == 0 and synthese["PRO-EMP-AME"] == 4
        # published marts carry no participant identifier
        cols = {r[0] for r in con.sql(
            "select column_name from information_schema.columns where table_schema = 'marts'"
        ).fetchall()}
        assert "identifiant" not in cols
        # every model and every column of every model is documented
        built = con.sql(
            "select table_schema || '.' || table_name, column_name from information_schema.columns "
            "where table_schema in ('staging', 'intermediate', 'marts')"
        ).fetchall()
    manifest = json.loads((dbt_env["base"] / "target" / "manifest.json").read_text())
    docs = {
        f"{n['schema']}.{n['name']}": n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model"
    }
    for relation, column in built:
        assert docs[relation]["description"].strip(), relation
        described = docs[relation]["columns"].get(column, {}).get("description", "")
        assert described.strip(), f"{relation}.{column} undocumented"


SUM_TESTS = ["fct_chiffres_cles_somme_des_actions", "fct_synthese_thematiques_somme_des_actions"]


def shift_summed_figures(dbt_env, by: int) -> str:
    """Move 2099's PRO ETP key figure by ``by`` hundredths and its RU amount paid by ``by`` €,
    away from the sums of the actions they stand for; and give figures no action stands for: a
    thematic without action 1,000,000 €, the RU type (no accompaniment) 5 accompaniments. Or
    all of it back (``by`` < 0). Returns the thematic without action."""
    with duckdb.connect(str(dbt_env["warehouse"] / "bilan.duckdb")) as con:
        con.execute(f"UPDATE marts.fct_chiffres_cles SET valeur = valeur + {by} * 0.01 "
                    "WHERE exercice = 2099 AND perimetre = 'PRO' AND indicateur = 'etp'")
        con.execute(f"UPDATE marts.fct_synthese_thematiques SET montant_paye_eur = "
                    f"montant_paye_eur + {by} WHERE exercice = 2099 AND code_thematique = 'RU'")
        [(sans_action,)] = con.execute(
            "SELECT min(code_thematique) FROM marts.fct_synthese_thematiques s WHERE exercice = "
            "2099 AND NOT EXISTS (SELECT 1 FROM marts.fct_actions a WHERE a.exercice = 2099 "
            "AND a.code_thematique = s.code_thematique)").fetchall()
        con.execute("UPDATE marts.fct_synthese_thematiques SET montant_paye_eur = "
                    f"{1_000_000 if by > 0 else 0} "
                    f"WHERE exercice = 2099 AND code_thematique = '{sans_action}'")
        if by > 0:
            con.execute("INSERT INTO marts.fct_chiffres_cles BY NAME SELECT 2099 AS exercice, "
                        "'RU' AS perimetre, 'accompagnements' AS indicateur, 5 AS valeur")
        else:
            con.execute("DELETE FROM marts.fct_chiffres_cles WHERE exercice = 2099 AND "
                        "perimetre = 'RU' AND indicateur = 'accompagnements'")
    return sans_action


def test_mart_sum_tests_fail_when_a_published_total_does_not_add_up(dbt_env, green_2099):
    """The marts add up by construction; the two tests guarding it must still be able to fail:
    on the green build's warehouse, a key figure and a synthesis amount are tampered with, and
    exactly those two tests fail, saying which figure. They also read the marts' side: a
    figure no action stands for (a thematic without action, an accompaniment figure of a type
    whose actions have none) fails them too; they compared only the groups the actions have,
    and a thematic's 1,000,000 € with no action behind it passed (cold review)."""
    restore(dbt_env)
    sans_action = shift_summed_figures(dbt_env, +1)
    rc, statuses, out = dbt_test(dbt_env, *SUM_TESTS)
    assert rc != 0, out
    assert statuses == {t: "fail" for t in SUM_TESTS}, out
    stored = stored_failures(dbt_env)
    with connect(dbt_env) as con:
        [(ex, perimetre, indicateur, attendu, valeur), sans_detail] = con.sql(
            f"select * from {stored[SUM_TESTS[0]]} order by attendu nulls last").fetchall()
        synthese = con.sql(
            f"select code_thematique, montant_paye_eur, montant_paye_eur_publie, sans_detail "
            f"from {stored[SUM_TESTS[1]]} order by 1").fetchall()
    assert (ex, perimetre, indicateur) == (2099, "PRO", "etp")
    assert valeur - attendu == Decimal("0.01")
    assert sans_detail == (2099, "RU", "accompagnements", None, Decimal("5.00"))
    assert synthese == sorted([(sans_action, None, Decimal("1000000.00"), True),
                               ("RU", Decimal("8499.75"), Decimal("8500.75"), False)])
    # put right, the tests pass again and their failing rows are gone: a view left from the
    # failing run would show rows the test no longer finds
    green = warned_views(dbt_env, green_2099)
    assert audit_views(dbt_env) == {stored[t] for t in SUM_TESTS} | green
    shift_summed_figures(dbt_env, -1)
    rc, statuses, out = dbt_test(dbt_env, *SUM_TESTS)
    assert rc == 0 and statuses == {t: "pass" for t in SUM_TESTS}, out
    assert audit_views(dbt_env) == green


LAYER_TESTS = [
    # a participant of a référent unique convention (whose persons are counted from its CER
    # sheet) and a CER of an accompaniment convention: the tests filtering their target
    # (`to_condition`) catch them
    "stg_operateurs__participants_action_d_accompagnement",
    "stg_operateurs__cer_action_de_contractualisation",
    # a published key figure missing, another twice
    "fct_chiffres_cles_couvre_indicateurs_publies",
    "unique_combination_fct_chiffres_cles_exercice__perimetre__indicateur",
    # invariants every layer holds by construction, each broken once: a negative ETP, an exit
    # in two categories, an accompaniment neither ended nor running, an accompaniment figure
    # on a partnership, employment exits that are not the sum of their two columns
    "stg_operateurs__actions_etp_positif",
    "int_participants__sorties_classees_un_seul_volet",
    "int_actions__indicateurs_accompagnements_sortis_ou_en_cours",
    "fct_actions_accompagnements_ssi_nature_accompagnement",
    "fct_synthese_thematiques_sorties_emploi_formation",
]


def test_tests_of_later_layers_fail_on_tampered_rows(dbt_env, green_2099):
    """Tests that read a later layer (staging rows against the intermediate actions, a mart
    against the published figures' list) and the intermediate and mart tests are skipped in
    the broken-rules build, downstream of its failing staging tests: here, on the green
    build's warehouse, rows are tampered with and exactly those tests fail, naming the rows."""
    restore(dbt_env)
    with duckdb.connect(str(dbt_env["warehouse"] / "bilan.duckdb")) as con:
        con.execute("""insert into raw.raw_participants values
            (2099, 'PDI-2099-0002', 'X1', '2099-03-01', null, null, null, null,
             '2099/operateurs/b.ods', 'Participants', 2, 'sha-b', '2099-12-31 10:00:00',
             'run-1')""")
        con.execute("""insert into raw.raw_cer values
            (2099, 'PDI-2099-0001', 'P1', '2099-02-01', false,
             '2099/operateurs/a.xlsx', 'CER', 2, 'sha-a', '2099-12-31 10:00:00', 'run-1')""")
        con.execute("DELETE FROM marts.fct_chiffres_cles WHERE exercice = 2099 "
                    "AND perimetre = 'total' AND indicateur = 'etp'")
        con.execute("INSERT INTO marts.fct_chiffres_cles SELECT * FROM marts.fct_chiffres_cles "
                    "WHERE exercice = 2099 AND perimetre = 'total' AND indicateur = 'nb_actions'")
        for statement in (
            "UPDATE raw.raw_actions SET etp = -1 WHERE num_convention = 'PDI-2099-0005'",
            "UPDATE intermediate.int_participants__sorties_classees SET est_mise_en_parcours = "
            "true WHERE num_convention = 'PDI-2099-0001' AND est_insertion_durable",
            "UPDATE intermediate.int_actions__indicateurs SET en_cours = en_cours + 1 "
            "WHERE num_convention = 'PDI-2099-0001'",
            "UPDATE marts.fct_actions SET accompagnements = 0 "
            "WHERE num_convention = 'PDI-2099-0004'",
            "UPDATE marts.fct_synthese_thematiques SET sorties_emploi_formation = "
            "sorties_emploi_formation + 1 WHERE exercice = 2099 AND code_thematique = 'SOC-NUM'",
        ):
            assert con.execute(statement).fetchone()[0] >= 1, statement  # rows changed
    rc, statuses, out = dbt_test(dbt_env, *LAYER_TESTS)
    assert rc != 0, out
    assert statuses == {t: "fail" for t in LAYER_TESTS}, out
    with connect(dbt_env) as con:
        participants = con.sql("select num_convention, source_file, source_sheet, source_row "
                               f"from dbt_test__audit.{LAYER_TESTS[0]}").fetchall()
        cer = con.sql("select num_convention, source_file, source_sheet, source_row "
                      f"from dbt_test__audit.{LAYER_TESTS[1]}").fetchall()
        missing = con.sql(f"select * from dbt_test__audit.{LAYER_TESTS[2]}").fetchall()
    assert participants == [("PDI-2099-0002", "2099/operateurs/b.ods", "Participants", 2)]
    stored = stored_failures(dbt_env)
    assert audit_views(dbt_env) == {stored[t] for t in LAYER_TESTS} | warned_views(
        dbt_env, green_2099)
    assert cer == [("PDI-2099-0001", "2099/operateurs/a.xlsx", "CER", 2)]
    assert missing == [(2099, "total", "etp")]


# The remaining custom tests of every layer, each with one tampering that breaks it, the status
# it must then report (the `warn` ones are said, not blocking) and the key its failing rows must
# name: every tampered row breaks the test it stands for, and that test only catches that row.
# (dbt's own not_null / unique / accepted_values / relationships are dbt's to prove; one
# relationships test each on a staging column, a seed and a mart is kept as a sample.)
INVARIANTS = [
    # staging, on the raw tables (views)
    ("stg_operateurs__actions_num_convention_de_l_exercice", "fail",
     "UPDATE raw.raw_actions SET num_convention = 'PDI-2098-0004' "
     "WHERE num_convention = 'PDI-2099-0004'", ("num_convention", "PDI-2098-0004")),
    ("column_gte_column_stg_operateurs__actions_date_fin__date_debut", "fail",
     "UPDATE raw.raw_actions SET date_fin = '2099-02-28' WHERE num_convention = 'PDI-2099-0005'",
     ("num_convention", "PDI-2099-0005")),
    ("stg_operateurs__actions_nb_referents_renseigne_pour_ru", "warn",
     "UPDATE raw.raw_actions SET nb_referents = NULL WHERE num_convention = 'PDI-2099-0002'",
     ("num_convention", "PDI-2099-0002")),
    ("stg_operateurs__participants_motif_ssi_sortie", "fail",
     "UPDATE raw.raw_participants SET code_motif = NULL "
     "WHERE num_convention = 'PDI-2099-0001' AND identifiant = 'P4'", ("identifiant", "P4")),
    ("relationships_stg_operateurs__participants_code_motif__code_motif__ref_stg_nomenclature__motifs_sortie_",
     "fail", "UPDATE raw.raw_participants SET code_motif = 'XX-INCONNU' "
     "WHERE num_convention = 'PDI-2099-0001' AND identifiant = 'P2'",
     ("from_field", "XX-INCONNU")),
    ("stg_operateurs__participants_pas_de_doublon_d_entree", "warn",
     """INSERT INTO raw.raw_participants VALUES
        (2099, 'PDI-2099-0003', 'Q2', '2099-04-01', null, null, null, null,
         '2099/operateurs/a2.xlsx', 'Participants', 9, 'sha-a2', '2099-12-31 10:00:00', 'run-1')""",
     ("identifiant", "Q2")),
    # staging, on the seeds (nomenclatures, published figures)
    ("stg_nomenclature__motifs_sortie_sous_categorie_de_sa_categorie", "fail",
     "UPDATE seeds.motifs_sortie SET categorie = 'AUTRE_MOTIF' "
     "WHERE sous_categorie = 'CREATION_ACTIVITE' AND code_motif = 'ID-CREATION'",
     ("code_motif", "ID-CREATION")),
    ("stg_nomenclature__thematiques_indicateurs_connus", "fail",
     "UPDATE seeds.thematiques SET indicateurs_specifiques = 'lieux_acces_multimedia;cafes' "
     "WHERE code_thematique = 'SOC-NUM'", ("code_thematique", "SOC-NUM")),
    ("stg_reference__bilan_publie_synthese_sorties_emploi_formation_coherentes", "fail",
     "UPDATE seeds.bilan_publie_synthese SET sorties_emploi_formation = "
     "sorties_emploi_formation + 1 WHERE code_thematique = 'PRO-CREA-ACC'",
     ("code_thematique", "PRO-CREA-ACC")),
    ("relationships_stg_reference__bilan_publie_synthese_code_thematique__code_thematique__ref_stg_nomenclature__thematiques_",
     "fail", "UPDATE seeds.bilan_publie_synthese SET code_thematique = 'ZZ-INCONNUE' "
     "WHERE code_thematique = 'PRO-PART'", ("from_field", "ZZ-INCONNUE")),
    # intermediate (tables)
    ("int_participants__sorties_classees_toute_sortie_classee", "fail",
     "UPDATE intermediate.int_participants__sorties_classees SET categorie = NULL "
     "WHERE num_convention = 'PDI-2099-0003' AND est_sortie", ("num_convention", "PDI-2099-0003")),
    # one more ended, one fewer running: the total still holds, the split by reason does not
    ("int_actions__indicateurs_sorties_par_volet", "fail",
     "UPDATE intermediate.int_actions__indicateurs SET fins_accompagnement = "
     "fins_accompagnement + 1, en_cours = en_cours - 1 WHERE num_convention = 'PDI-2099-0003'",
     ("num_convention", "PDI-2099-0003")),
    ("int_finances__paiements_par_convention_mandats_par_nature", "fail",
     "UPDATE intermediate.int_finances__paiements_par_convention SET nb_mandats = nb_mandats + 1 "
     "WHERE num_convention = 'PDI-2099-0004'", ("num_convention", "PDI-2099-0004")),
    ("int_finances__paiements_par_convention_montant_net_positif", "warn",
     "UPDATE intermediate.int_finances__paiements_par_convention SET montant_paye_eur = -0.01 "
     "WHERE num_convention = 'PDI-2099-0001'", ("num_convention", "PDI-2099-0001")),
    ("int_operateurs__cer_par_convention_social_parmi_cer", "fail",
     "UPDATE intermediate.int_operateurs__cer_par_convention SET personnes_accompagnement_social "
     "= personnes_cer + 1 WHERE num_convention = 'PDI-2099-0002'",
     ("num_convention", "PDI-2099-0002")),
    # marts
    ("fct_actions_cer_ssi_contractualisation", "fail",
     "UPDATE marts.fct_actions SET personnes_cer = NULL WHERE num_convention = 'PDI-2099-0002'",
     ("num_convention", "PDI-2099-0002")),
    ("relationships_fct_actions_code_thematique__code_thematique__ref_dim_thematiques_", "fail",
     "UPDATE marts.fct_actions SET code_thematique = 'ZZ-INCONNUE' "
     "WHERE num_convention = 'PDI-2099-0001'", ("from_field", "ZZ-INCONNUE")),
    # a previous exercise that is not earlier (its amounts consistent), and one whose amounts do
    # not subtract (2099 is the fixture's only exercise: no row has a previous one)
    ("fct_evolution_thematiques_precedent_anterieur", "fail",
     "UPDATE marts.fct_evolution_thematiques SET exercice_precedent = 2100, "
     "montant_paye_eur_precedent = montant_paye_eur, evolution_montant_eur = 0 "
     "WHERE exercice = 2099 AND code_thematique = 'RU'", ("code_thematique", "RU")),
    ("fct_evolution_thematiques_evolution_montant", "fail",
     "UPDATE marts.fct_evolution_thematiques SET exercice_precedent = 2098, "
     "montant_paye_eur_precedent = 0, evolution_montant_eur = montant_paye_eur + 1 "
     "WHERE exercice = 2099 AND code_thematique = 'SOC-NUM'", ("code_thematique", "SOC-NUM")),
]


DBT_OWN = {"not_null", "unique", "accepted_values", "relationships"}


def test_each_remaining_invariant_fails_on_its_own_tampered_row(dbt_env, green_2099):
    """Every custom test of the project not proven to fail elsewhere in this file: on the green
    build's warehouse, one row each is tampered with; each test then reports its status and its
    failing rows name exactly the tampered row (so no tampering breaks another test instead)."""
    restore(dbt_env)
    names = [name for name, *_ in INVARIANTS]
    assert {green_2099[n] for n in names} == {"pass"}  # green before the tampering
    with duckdb.connect(str(dbt_env["warehouse"] / "bilan.duckdb")) as con:
        for _, _, statement, _ in INVARIANTS:
            assert con.execute(statement).fetchone()[0] >= 1, statement  # rows changed
    rc, statuses, out = dbt_test(dbt_env, *names)
    assert rc != 0, out
    assert statuses == {name: status for name, status, *_ in INVARIANTS}, out
    # a long test name's failures are stored under a shortened, hashed name: dbt's manifest says
    stored = stored_failures(dbt_env)
    manifest = json.loads((dbt_env["base"] / "target" / "manifest.json").read_text())
    # and a custom test added later is made to fail somewhere too: each one is named, as a
    # string, in a test module (dbt's own generic tests excepted, and the composite keys under
    # their generated names, `unique_combination` being proven once above)
    custom = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test"
              and (n.get("test_metadata") or {}).get("name", "singular") not in DBT_OWN
              and not n["name"].startswith("unique_combination_")}
    named = "\n".join(p.read_text("utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    unproven = sorted(n for n in custom if f'"{n}"' not in named)
    assert len(custom) > 30 and not unproven, unproven
    with connect(dbt_env) as con:
        for name, _, _, (column, value) in INVARIANTS:
            rows = con.sql(f"select distinct {column}::varchar from {stored[name]}")
            assert rows.fetchall() == [(value,)], name


def test_broken_rules_fail_their_tests(dbt_env):
    rc, statuses, out = dbt_build(dbt_env, "2099_regles_cassees")
    assert rc != 0
    assert failing(statuses) == {
        # exit before entry
        "column_gte_column_stg_operateurs__participants_date_sortie__date_entree",
        # mandate for a convention without workbook
        "stg_finances__mandats_convention_a_un_bilan",
        # action without mandate
        "stg_operateurs__actions_a_au_moins_un_mandat",
        # thematic not in the nomenclature
        "relationships_stg_operateurs__actions_code_thematique__code_thematique__ref_stg_nomenclature__thematiques_",
        # a negative Avance: only an Annulation is negative (GX blocks it too)
        "stg_finances__mandats_paiement_non_negatif",
        # a positive Annulation: an Annulation takes money back
        "stg_finances__mandats_annulation_negative",
        # a mandate number twice in the exercise
        "unique_combination_stg_finances__mandats_exercice__num_mandat",
        # a 13-digit SIRET
        "stg_operateurs__actions_siret_14_chiffres",
        # a file whose rows read are not its rows loaded + rejected
        "stg_pipeline__manifest_lignes_lues_chargees_rejetees",
    }, out
    # the failing rows say which workbook, sheet and row (the convention alone said nothing
    # of where to look)
    with connect(dbt_env) as con:
        rows = con.sql("select num_convention, source_file, source_sheet, source_row from "
                       "dbt_test__audit.stg_operateurs__actions_a_au_moins_un_mandat").fetchall()
        orphan = con.sql("select num_convention, nb_lignes, source_file, source_row from "
                         "dbt_test__audit.stg_finances__mandats_convention_a_un_bilan").fetchall()
    assert rows == [("PDI-2099-0006", "2099/operateurs/e.xlsx", "Action", 3)], rows
    # two lines in two exports: one line of one file (not 'mandats_2099.csv line 2')
    assert orphan == [("PDI-2099-0999", 2, "2099/finances/mandats_2099.csv", 10)], orphan
    # the unknown operator's SIRET and a payment of 0 are only warnings
    assert statuses["stg_finances__mandats_siret_de_l_operateur"] == "warn"
    assert statuses["stg_finances__mandats_paiement_non_nul"] == "warn"
    # an ETP of 1,250,000 (an amount typed in the cell): a warning naming it (the marts hold
    # it: DECIMAL(18,6); a DECIMAL(12,6) cast failed the build, naming no workbook)
    assert statuses["stg_operateurs__actions_etp_plausible"] == "warn"


def test_2017_off_published_totals_fails_control_test(dbt_env):
    rc, statuses, out = dbt_build(dbt_env, "2017_ecart_publie")
    assert rc != 0
    assert failing(statuses) == {CONTROL_TEST}, out
    with connect(dbt_env) as con:
        messages = [r[0] for r in con.sql(
            f"select message from dbt_test__audit.{CONTROL_TEST}"
        ).fetchall()]
    assert "2017 chiffres_cles total nb_actions: publié 220, calculé 2 (écart -218)" in messages
    # a lower bound ('plus de 12 000') missed by one
    assert ("2017 chiffres_cles SOC-INS accueils_individuels: publié 12000 (minimum), "
            "calculé 11999 (écart -1)") in messages
    assert (
        "2017 synthese PRO-EMP-AME accompagnements: publié 7538, calculé 1 (écart -7537)"
        in messages
    )
    # the one figure the fixture matches is not reported: 4 731 052.60 € computed, 4 731 053 €
    # printed (the report rounds to the euro)
    assert not any("PRO-EMP-AME montant_paye_eur" in m for m in messages)


def test_the_fixtures_raw_schema_is_the_loaders():
    """dbt/dev's raw tables stand for the loader's (the dbt project's source contract): a column
    the loader adds (raw.rejets.num_convention) must be added there too, or the dbt tests run on
    a warehouse no run ever writes. Same tables, same columns, same types, same order."""
    from dagster_project.ingestion.warehouse import init_raw_schema

    query = ("SELECT table_name, column_name, data_type FROM information_schema.columns "
             "WHERE table_schema = 'raw' ORDER BY table_name, ordinal_position")
    with duckdb.connect() as loader, duckdb.connect() as fixture:
        init_raw_schema(loader)
        fixture.execute((DBT_DIR / "dev" / "fixture_raw_schema.sql").read_text("utf-8"))
        assert fixture.execute(query).fetchall() == loader.execute(query).fetchall()
