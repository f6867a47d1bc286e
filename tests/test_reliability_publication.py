"""The publication gate: no unchecked figure reaches marts.duckdb, and the CLI says what happened.

Seconds each, no dbt: the tests copy the session's real 2017 run (warehouse and DAGSTER_HOME with
its materializations and check evaluations, see conftest.run_2017) and run real Dagster steps on
the copy, with a real instance:

* in a run, a failed blocking check on a *staging* model (GX suite ``gx_mandats``) skips the
  publication: it depends on every asset that carries a blocking check;
* materializing ``analystes/marts_publies`` alone (the UI's *Materialize*) refuses, old file
  untouched, when the instance says a blocking check upstream failed, did not run, or checked an
  older materialization than the asset's latest, and when a control total is not ok;
* ``publish()`` drops a stale ``marts.duckdb.wal`` left by a killed read-write client;
* ``bilan run`` says "nothing published" only when the publication did not materialize.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project import cli
from dagster_project.assets.ingestion import raw_tables
from dagster_project.assets.publication import MARTS_PUBLIES, marts_publies
from dagster_project.checks.conservation import manifest_conservation
from dagster_project.checks.paiements import paiements_comptes
from dagster_project.checks.quality import GX_CHECKS
from dagster_project.publication import publish
from dagster_project.resources import LOCK_HELD_ENV, WarehouseResource
from tests.conftest import copy_run

MANDATS = dg.AssetKey(["staging", "stg_finances__mandats"])
GX_MANDATS = dg.AssetCheckKey(MANDATS, "gx_mandats")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def marts_rows(path: Path) -> dict[str, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                "ORDER BY 1"
            ).fetchall()
        ]
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables}
    finally:
        con.close()


class Copy:
    """A copy of the session's 2017 run: its warehouse dir and its Dagster instance."""

    def __init__(self, run_2017, dest: Path):
        self.raw, self.warehouse, self.home = copy_run(run_2017, dest)
        self.marts = self.warehouse / "marts.duckdb"
        self.before = sha256(self.marts)
        self.instance = dg.DagsterInstance.from_config(str(self.home))

    def sql(self, statement: str) -> None:
        con = duckdb.connect(str(self.warehouse / "bilan.duckdb"))
        try:
            con.execute(statement)
        finally:
            con.close()

    def materialize(self, assets, **kwargs) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets,
            instance=self.instance,
            raise_on_error=False,
            resources={"warehouse": WarehouseResource(
                raw_dir=str(self.raw), warehouse_dir=str(self.warehouse))},
            **kwargs,
        )

    def publish_alone(self) -> dg.ExecuteInProcessResult:
        """What *Materialize* on analystes/marts_publies alone does: that step, no check."""
        return self.materialize([marts_publies])


def refusal(result: dg.ExecuteInProcessResult):
    """The publication step's refusal (it must have failed, not published)."""
    assert not result.success, "analystes/marts_publies published"
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "analystes__marts_publies"
    err = failure.event_specific_data.error
    assert err.cls_name == "Failure", err.message
    return err


def steps(result, event_type: str) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == event_type}


@pytest.fixture
def copied(run_2017, tmp_path) -> Copy:
    c = Copy(run_2017, tmp_path)
    yield c
    c.instance.dispose()


# --------------------------------------------------------------------------- a. in a run


def test_publication_waits_for_every_blocking_check_of_the_code_location():
    from dagster._core.execution.api import create_execution_plan

    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    blocking = {k for k in graph.asset_check_keys if graph.get_check_spec(k).blocking}
    assert {
        "staging/stg_finances__mandats",
        "staging/stg_operateurs__participants",
        "raw/manifest",
    } <= {k.asset_key.to_user_string() for k in blocking}
    parents = graph.get(MARTS_PUBLIES).parent_keys
    assert {k.asset_key for k in blocking} <= parents, sorted(
        k.asset_key.to_user_string() for k in blocking if k.asset_key not in parents
    )[:5]
    # in the nightly job's plan, the publication step takes an input from every blocking check
    plan = create_execution_plan(defs.resolve_job_def("bilan_nightly"))
    produced_by = {
        (step.key, out.name): out.properties.asset_check_key
        for step in plan.steps
        for out in step.step_outputs
        if out.properties is not None and out.properties.asset_check_key is not None
    }
    step = plan.get_step_by_key("analystes__marts_publies")
    waited = {
        produced_by.get((h.step_key, h.output_name))
        for step_input in step.step_inputs
        for h in step_input.get_step_output_handle_dependencies()
    }
    assert blocking <= waited, sorted(map(str, blocking - waited))[:5]
    from dagster_project.assets.publication import BLOCKING_CHECKS

    assert blocking == BLOCKING_CHECKS  # the refusal in the step verifies the same checks


@pytest.fixture(scope="module")
def gx_failed(run_2017, tmp_path_factory) -> tuple[Copy, dg.ExecuteInProcessResult]:
    """A 2017 mandate paid negative (not an Annulation): GX ``gx_mandats`` fails (ERROR; dbt's
    ``stg_finances__mandats_paiement_non_negatif`` would too, not run here); run with the
    publication, as the job does."""
    copied = Copy(run_2017, tmp_path_factory.mktemp("gx_failed"))
    copied.sql(
        "UPDATE raw.raw_mandats SET montant = -montant WHERE num_mandat = "
        "(SELECT min(num_mandat) FROM raw.raw_mandats WHERE nature = 'Avance')"
    )
    result = copied.materialize(
        [marts_publies, *GX_CHECKS],
        selection=dg.AssetSelection.assets(MARTS_PUBLIES) | dg.AssetSelection.checks(GX_MANDATS),
    )
    yield copied, result
    copied.instance.dispose()


def test_failed_staging_check_skips_the_publication_in_the_run(gx_failed):
    copied, result = gx_failed
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.asset_check_key == GX_MANDATS and not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    # which rule, observed vs expected, and which line of which export
    [failed] = evaluation.metadata["failed"].value
    assert failed["rule"] == "seule une Annulation peut être négative", failed
    assert (failed["observed"], failed["expected"]) == ("1 ligne(s) hors règle", "≥ 0")
    [where] = failed["examples"]
    assert where.startswith("2017/finances/mandats_2017.csv ligne "), where
    assert not result.success
    assert "analystes__marts_publies" not in steps(result, "STEP_START")  # skipped by Dagster
    assert sha256(copied.marts) == copied.before


def test_a_gx_check_that_cannot_read_its_relation_fails(run_2017, tmp_path):
    """The suite's relation gone (a dbt build that failed half-way, a view dropped by hand):
    the check could not run, which is a failure (blocking), never a pass."""
    copied = Copy(run_2017, tmp_path)
    copied.sql("DROP VIEW staging.stg_finances__mandats")
    try:
        result = copied.materialize(
            [marts_publies, *GX_CHECKS], selection=dg.AssetSelection.checks(GX_MANDATS)
        )
        [evaluation] = result.get_asset_check_evaluations()
    finally:
        copied.instance.dispose()
    assert evaluation.asset_check_key == GX_MANDATS and not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.description.startswith("suite mandats could not run: CatalogException"), (
        evaluation.description)


# --------------------------------------------------------------------------- b. alone


def test_publication_alone_refuses_after_a_failed_check(gx_failed):
    copied, _ = gx_failed
    result = copied.publish_alone()
    err = refusal(result)
    assert "staging/stg_finances__mandats:gx_mandats en échec" in err.message
    assert "Publication refusée, marts.duckdb inchangé" in err.message
    assert sha256(copied.marts) == copied.before
    assert not list(copied.warehouse.glob(".marts-*"))
    # not retried: the data will not change by itself
    assert not steps(result, "STEP_UP_FOR_RETRY")


def test_publication_alone_refuses_failed_control_totals(copied):
    # what a failed run leaves: dbt rebuilt the marts, then the control-totals test failed
    copied.sql(
        "UPDATE marts.fct_controles_publies SET valeur_calculee = valeur_calculee + 1, "
        "statut = 'ko' WHERE perimetre = 'total' AND indicateur = 'montant_paye_eur'"
    )
    result = copied.publish_alone()
    err = refusal(result)
    assert "1 contrôle(s) non ok" in err.message
    assert (
        "contrôle 2017 chiffres_cles/total/montant_paye_eur : observé 15866992.00 / "
        "attendu 15866991.00 (ko)"
    ) in err.message
    assert sha256(copied.marts) == copied.before
    assert not steps(result, "STEP_UP_FOR_RETRY")


def test_publication_alone_republishes_checked_marts_only(copied):
    published = marts_rows(copied.marts)
    ok = copied.publish_alone()
    assert ok.success
    assert marts_rows(copied.marts) == published  # same checked figures, file replaced
    before = sha256(copied.marts)
    # the synthesis rebuilt since its checks ran (e.g. `dbt run` without its tests): unverified
    copied.instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=dg.AssetKey(["marts", "fct_synthese_thematiques"]))
    )
    err = refusal(copied.publish_alone())
    assert (
        "marts/fct_synthese_thematiques:gx_synthese_thematiques évalué sur une "
        "matérialisation antérieure" in err.message
    )
    assert sha256(copied.marts) == before


def test_publication_alone_refuses_marts_older_than_the_load(copied):
    """"Materialize" on the ingestion (with its checks), then on the publication (dbt not
    selected): the warehouse's marts are the previous load's and their checks still pass on
    them; published, they would show figures the new files contradict (and a state the next
    nightly run would skip against)."""
    def ingest() -> dg.ExecuteInProcessResult:
        return copied.materialize(
            [raw_tables, manifest_conservation, paiements_comptes], partition_key="2017"
        )

    # nothing changed: the ingestion materializes nothing, the marts stay the latest load's
    assert ingest().success
    assert copied.publish_alone().success
    before = sha256(copied.marts)
    # the finance export corrected since: one mandate 10,000 EUR higher
    export = copied.raw / "2017" / "finances" / "mandats_2017.csv"
    text = export.read_bytes()
    old, new = "14\xa0216,00".encode("cp1252"), "24\xa0216,00".encode("cp1252")
    assert text.count(old) == 1
    export.write_bytes(text.replace(old, new))
    loaded = ingest()
    assert loaded.success and loaded.get_asset_materialization_events()
    evaluations = loaded.get_asset_check_evaluations()
    # both selected checks ran and passed (an empty list would pass `all`)
    assert len(evaluations) == 2 and all(e.passed for e in evaluations)
    refused = copied.publish_alone()
    assert not steps(refused, "STEP_UP_FOR_RETRY")
    err = refusal(refused)
    assert "6 modèle(s) non reconstruit(s) depuis leur amont" in err.message, err.message
    assert (
        "- staging/stg_finances__mandats construit (run "
        in err.message
    )
    assert (
        f"avant la dernière matérialisation de raw/raw_mandats (run {loaded.run_id}) : "
        "à reconstruire (dbt build ou le job bilan_nightly)" in err.message
    )
    assert sha256(copied.marts) == before


def test_publication_alone_refuses_after_a_load_that_died_half_way(copied, monkeypatch):
    """A load commits exercise by exercise: one that dies after committing (here, just before
    recording its end) materializes nothing, so no model looks stale, yet the warehouse holds its
    rows and the marts the previous load's. Published alone, they would not match the raw tables
    (nor ``paiements_non_comptes``, computed from them at publication). Refused until a load
    finishes (cold review's reproduction)."""
    from dagster_project import state

    export = copied.raw / "2017" / "finances" / "mandats_2017.csv"
    text = export.read_bytes()
    old, new = "14\xa0216,00".encode("cp1252"), "24\xa0216,00".encode("cp1252")
    export.write_bytes(text.replace(old, new))

    def die(*args, **kwargs):
        raise OSError("disque plein")

    monkeypatch.setattr(state, "store_pending", die)
    died = copied.materialize([raw_tables], partition_key="2017")
    assert not died.success and not died.get_asset_materialization_events()
    monkeypatch.undo()
    con = duckdb.connect(str(copied.warehouse / "bilan.duckdb"), read_only=True)
    try:  # the load's rows are there
        assert con.execute("SELECT sum(montant) FROM raw.raw_mandats").fetchone()[0] == 15876991
    finally:
        con.close()
    err = refusal(copied.publish_alone())
    assert "dernier chargement interrompu" in err.message, err.message
    assert f"- chargement du run {died.run_id} interrompu" in err.message
    assert sha256(copied.marts) == copied.before


def test_check_planned_but_not_run():
    """A successful run that skipped the asset and its check leaves the last evaluation in
    force, and so does a run queued behind; a run that rebuilt the asset and has not checked it
    yet, or that failed before the check ran, does not."""
    from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
    from dagster._core.events.log import EventLogEntry

    from dagster_project.checks.publication_gate import unverified_checks

    key = dg.AssetKey(["staging", "modele"])
    check_key = dg.AssetCheckKey(key, "controle")

    def definitions(materialize: bool, check_raises: bool):
        @dg.multi_asset(specs=[dg.AssetSpec(key, skippable=True)])
        def modele():
            if materialize:
                yield dg.MaterializeResult(asset_key=key)

        @dg.asset_check(asset=key, name="controle", blocking=True)
        def controle() -> dg.AssetCheckResult:
            if check_raises:
                raise RuntimeError("le contrôle n'a pas pu tourner")
            return dg.AssetCheckResult(passed=True)

        return [modele, controle]

    with dg.instance_for_test() as instance:
        assert unverified_checks(instance, [check_key]) == ["staging/modele:controle jamais évalué"]
        assert dg.materialize(definitions(True, False), instance=instance).success
        assert unverified_checks(instance, [check_key]) == []
        skipped = dg.materialize(definitions(False, False), instance=instance)
        assert skipped.success and "staging__modele_controle" in steps(skipped, "STEP_SKIPPED")
        assert unverified_checks(instance, [check_key]) == []
        # a run submitted behind (queued: Dagster plans its checks at submission) has rebuilt
        # nothing yet: the evaluation of the data published now stays in force
        defs = dg.Definitions(assets=definitions(True, False))
        job = defs.resolve_implicit_global_asset_job_def()
        queued = instance.create_run_for_job(job_def=job)
        records = instance.event_log_storage.get_latest_asset_check_execution_by_key([check_key])
        assert records[check_key].run_id == queued.run_id  # its plan is the latest record
        assert unverified_checks(instance, [check_key]) == []
        # once it has rebuilt the asset and before its check ran, the data is unverified
        instance.store_event(EventLogEntry(
            error_info=None, level="INFO", user_message="", run_id=queued.run_id,
            timestamp=time.time(), dagster_event=DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
                job_name=job.name,
                event_specific_data=StepMaterializationData(dg.AssetMaterialization(key)),
            ),
        ))
        assert unverified_checks(instance, [check_key]) == [
            f"staging/modele:controle en cours d'exécution (run {queued.run_id})"]
        instance.report_run_failed(queued)
        failed = dg.materialize(definitions(True, True), instance=instance, raise_on_error=False)
        assert not failed.success
        [why] = unverified_checks(instance, [check_key])
        assert why.startswith("staging/modele:controle non exécuté, run ")
        assert why.endswith("FAILURE")


# --------------------------------------------------------------------------- c. stale WAL

KILLED_WRITER = textwrap.dedent("""
    import os, sys, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("CREATE TABLE intrus AS SELECT 42 AS x")
    con.execute("INSERT INTO synthese_thematiques VALUES (9999)")
    os._exit(0)  # killed with the file open read-write: its WAL stays beside it
""")


def test_publish_leaves_no_stale_wal_to_replay(tmp_path):
    target = tmp_path / "marts.duckdb"
    con = duckdb.connect(str(tmp_path / "bilan.duckdb"))
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.s AS SELECT range AS n FROM range(3)")
    tables = {"synthese_thematiques": "marts.s"}
    publish(con, target, tables)
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], check=True, timeout=60)
    wal = Path(str(target) + ".wal")
    assert wal.exists()  # the killed client's changes, for the OLD file
    con.execute("INSERT INTO marts.s VALUES (3)")
    result = publish(con, target, tables)
    con.close()
    assert marts_rows(target) == {"synthese_thematiques": [(0,), (1,), (2,), (3,)]}
    assert not wal.exists() and result.stale_wal_removed


def test_a_failed_publish_leaves_no_temp_file(tmp_path):
    """The new file is written beside the old one, then renamed over it: a rename that fails
    (here the target is a directory; a permission, a full disk) left the 1.5 MB temp file until
    the next run swept it (on-call cold test)."""
    target = tmp_path / "marts.duckdb"
    target.mkdir()
    con = duckdb.connect(str(tmp_path / "bilan.duckdb"))
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.s AS SELECT range AS n FROM range(3)")
    with pytest.raises(IsADirectoryError):
        publish(con, target, {"synthese_thematiques": "marts.s"})
    con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bilan.duckdb", "marts.duckdb"]


# --------------------------------------------------------------------------- d. the CLI


def run_cli(copied: Copy, monkeypatch, capsys, *assets) -> tuple[int, str, str]:
    """``bilan run`` in process on the copy, its job being ``assets`` (the real publication and
    what follows it), so the closing summary is the CLI's own."""
    for var, value in (
        ("BILAN_RAW_DIR", copied.raw),
        ("BILAN_WAREHOUSE_DIR", copied.warehouse),
        ("DAGSTER_HOME", copied.home),
    ):
        monkeypatch.setenv(var, str(value))
    monkeypatch.delenv(LOCK_HELD_ENV, raising=False)
    job = dg.define_asset_job("bilan_nightly", selection=dg.AssetSelection.assets(*assets))
    fake = types.ModuleType("dagster_project.definitions")
    fake.defs = dg.Definitions(
        assets=list(assets), jobs=[job], resources={"warehouse": WarehouseResource()}
    )
    monkeypatch.setitem(sys.modules, "dagster_project.definitions", fake)
    rc = cli.main(["run", "--force", "--lock-timeout", "5"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_says_published_when_a_later_step_failed(copied, monkeypatch, capsys):
    @dg.asset(key=["analystes", "rapport_bilan"], deps=[MARTS_PUBLIES])
    def rapport_en_echec():
        raise dg.Failure("rapport : Chromium introuvable", allow_retries=False)

    ino = copied.marts.stat().st_ino
    rc, out, err = run_cli(copied, monkeypatch, capsys, marts_publies, rapport_en_echec)
    assert copied.marts.stat().st_ino != ino  # the marts were published…
    assert rc == 1
    assert "rien n'a été publié" not in err  # …and the CLI says so
    assert "ÉCHEC après publication" in err and str(copied.marts) in err
    assert "étape analystes__rapport_bilan en échec" in err and "Chromium" in err


def test_cli_says_nothing_published_when_the_publication_refused(copied, monkeypatch, capsys):
    copied.sql(
        "UPDATE marts.fct_controles_publies SET statut = 'ko' "
        "WHERE perimetre = 'total' AND indicateur = 'nb_actions'"
    )
    rc, out, err = run_cli(copied, monkeypatch, capsys, marts_publies)
    assert rc == 1
    assert "ÉCHEC : rien n'a été publié (marts.duckdb inchangé)" in err
    assert "Publication refusée" in err and "nb_actions" in err
    assert sha256(copied.marts) == copied.before


def test_cli_and_alert_never_show_an_earlier_runs_control_totals(copied, monkeypatch, capsys):
    """A run that fails before dbt rebuilds marts.fct_controles_publies leaves the earlier run's
    rows there: showing them as this run's failures would blame a file already fixed (or hide
    that the controls were not evaluated at all). The CLI and the alert say they were not
    evaluated; a run that rebuilt them shows them (test_orchestration_e2e)."""
    copied.sql("UPDATE marts.fct_controles_publies SET statut = 'ko' "
               "WHERE perimetre = 'total' AND indicateur = 'nb_actions'")  # an earlier run's

    @dg.asset(key=["raw", "raw_mandats"])
    def ingestion_en_echec():
        raise dg.Failure("ingestion : export illisible", allow_retries=False)

    rc, out, err = run_cli(copied, monkeypatch, capsys, ingestion_en_echec)
    assert rc == 1 and "export illisible" in err
    assert "nb_actions" not in err, err
    assert "contrôles des chiffres publiés non évalués" in err
    from dagster_project.sensors.alerts import build_message, controls_rebuilt

    runs = copied.instance.get_runs()
    failed = next(r for r in runs if r.status == dg.DagsterRunStatus.FAILURE)
    earlier = [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS]
    assert not controls_rebuilt(copied.instance, failed.run_id)
    assert earlier and all(controls_rebuilt(copied.instance, r.run_id) for r in earlier)
    # the failure alert of that run, the warehouse (with the earlier 'ko') in reach
    [rec] = copied.instance.get_records_for_run(
        failed.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    message = build_message(dg.build_run_status_sensor_context(
        sensor_name="alerte_echec_run", dagster_event=rec.event_log_entry.dagster_event,
        dagster_instance=copied.instance, dagster_run=failed).for_run_failure())
    assert message["failed_controls"] == [] and message["controls_evaluated"] is False
    assert "nb_actions" not in message["text"]
    assert "contrôles des chiffres publiés non évalués" in message["text"]


def test_cli_summary_survives_a_warehouse_held_by_another_process(copied, monkeypatch, capsys):
    """Another process holding bilan.duckdb read-write when the run ends: the closing summary
    cannot read it. The CLI said nothing of the failure and died on a traceback; it says the
    summary is unavailable and gives its verdict."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time, duckdb
        con = duckdb.connect({str(copied.warehouse / 'bilan.duckdb')!r})
        print("held", flush=True)
        time.sleep(40)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"

        @dg.asset(key=["raw", "raw_mandats"])
        def ingestion_en_echec():
            raise dg.Failure("ingestion : entrepôt tenu par un autre processus",
                             allow_retries=False)

        rc, out, err = run_cli(copied, monkeypatch, capsys, ingestion_en_echec)
    finally:
        holder.kill()
        holder.wait()
    assert rc == 1
    assert "résumé indisponible" in out and "Could not set lock" in out
    assert "ÉCHEC : rien n'a été publié" in err and "entrepôt tenu" in err


def test_a_refusal_names_the_failed_checks_first():
    """A refusal names the first 10 unverified checks: sorted by name, the one that failed hid
    behind the checks its failure stopped ('non exécuté', 'jamais évalué')."""
    from dagster_project.checks.publication_gate import unverified_checks

    key = dg.AssetKey(["staging", "modele"])

    @dg.asset(key=key)
    def modele():
        return None

    @dg.asset_check(asset=key, name="z_controle", blocking=True)
    def z_controle() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, description="écart")

    with dg.instance_for_test() as instance:
        dg.materialize([modele, z_controle], instance=instance, raise_on_error=False)
        lines = unverified_checks(instance, [dg.AssetCheckKey(key, "a_controle"),
                                             dg.AssetCheckKey(key, "z_controle")])
    assert [line.split(" ", 1)[0] for line in lines] == [
        "staging/modele:z_controle", "staging/modele:a_controle"]
    assert "en échec" in lines[0] and "jamais évalué" in lines[1]
