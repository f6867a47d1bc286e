"""The raw-drop sensor (one run per settled drop) and the run-failure webhook alert.

The drop sensor is evaluated with ``evaluate_tick`` on a temp raw dir and a temp instance, the way
the daemon does: its cursor is carried from one evaluation to the next, its dynamic-partition
requests are applied to the instance, and a run request whose run key was already used would be
dropped. BILAN_SENSOR_QUIET_S is set small so "quiet" is reached by sleeping past it. The files
need not be real workbooks: the sensor only lists, stats and hashes them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest

from dagster_project.partitions import EXERCICE_PARTITIONS, RANGE_END_TAG, RANGE_START_TAG
from dagster_project.sensors.alerts import build_message, run_failure_alert
from dagster_project.sensors.raw_drop import raw_drop_sensor
from tests.orchestration_support import project_instance, webhook_server

QUIET_S = 0.4


class FakeDaemon:
    """Evaluates the sensor like the daemon: cursor, partition requests, run-key dedup."""

    def __init__(self, instance: dg.DagsterInstance):
        self.instance = instance
        self.cursor: str | None = None
        self.used_keys: set[str] = set()
        self.launched: list[dg.RunRequest] = []
        self.last = None

    def tick(self) -> list[dg.RunRequest]:
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor) as ctx:
            data = raw_drop_sensor.evaluate_tick(ctx)
        self.last = data
        self.cursor = data.cursor
        for req in data.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        new = [r for r in data.run_requests if r.run_key not in self.used_keys]
        self.used_keys.update(r.run_key for r in new)
        self.launched.extend(new)
        return new

    def settle(self) -> list[dg.RunRequest]:
        """Evaluate (sees the change), wait past the quiet period, evaluate again."""
        first = self.tick()
        time.sleep(QUIET_S + 0.1)
        return first + self.tick()


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.fixture(scope="module")
def shared_instance(tmp_path_factory):
    """One temp instance for the module (creating a SQLite instance costs seconds)."""
    with project_instance(tmp_path_factory.mktemp("sensor_home")) as instance:
        yield instance


@pytest.fixture
def drop(tmp_path, monkeypatch, shared_instance):
    raw = tmp_path / "raw"
    raw.mkdir()
    monkeypatch.setenv("BILAN_RAW_DIR", str(raw))
    # no publication on record unless a test writes one (never the project's own warehouse)
    monkeypatch.setenv("BILAN_WAREHOUSE_DIR", str(tmp_path / "warehouse"))
    monkeypatch.setenv("BILAN_SENSOR_QUIET_S", str(QUIET_S))
    for key in shared_instance.get_dynamic_partitions(EXERCICE_PARTITIONS.name):
        shared_instance.delete_dynamic_partition(EXERCICE_PARTITIONS.name, key)
    yield raw, FakeDaemon(shared_instance)


def burst(raw: Path, daemon: FakeDaemon, exercice: str, n: int, per_tick: int = 5) -> None:
    """Write n files over several evaluations: none of them may request a run."""
    write(raw / exercice / "finances" / f"mandats_{exercice}.csv", b"num_mandat;montant\n1;10\n")
    for i in range(n):
        write(raw / exercice / "operateurs" / f"PDI-{exercice}-{i:04d}.xlsx", f"wb {i}".encode())
        if i % per_tick == per_tick - 1:
            assert daemon.tick() == [], daemon.last.skip_message
            time.sleep(QUIET_S / 4)


def test_burst_gives_one_run_once_quiet(drop):
    raw, daemon = drop
    burst(raw, daemon, "2017", 40)
    assert daemon.tick() == []  # the folder just changed: settling
    time.sleep(QUIET_S + 0.1)
    runs = daemon.tick()
    assert len(runs) == 1
    assert runs[0].tags[RANGE_START_TAG] == runs[0].tags[RANGE_END_TAG] == "2017"
    assert runs[0].tags["bilan/trigger"] == "raw_drop_sensor"
    for _ in range(3):  # nothing changes: no further run, however long we wait
        time.sleep(QUIET_S / 2)
        assert daemon.tick() == []
    assert len(daemon.launched) == 1


def test_changed_touched_removed_and_restored_files(drop):
    raw, daemon = drop
    burst(raw, daemon, "2017", 6)
    first = daemon.settle()
    assert len(first) == 1

    # touched, same content: no run
    target = raw / "2017" / "operateurs" / "PDI-2017-0003.xlsx"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert daemon.settle() == []
    assert "contenus inchangés" in daemon.last.skip_message

    # changed content: exactly one new run, with a new run key
    original = target.read_bytes()
    write(target, b"corrected workbook")
    changed = daemon.settle()
    assert len(changed) == 1 and changed[0].run_key != first[0].run_key
    assert changed[0].tags["bilan/drop_digest"] != first[0].tags["bilan/drop_digest"]
    assert daemon.settle() == []

    # removed file: one run
    (raw / "2017" / "operateurs" / "PDI-2017-0005.xlsx").unlink()
    removed = daemon.settle()
    assert len(removed) == 1

    # back to an earlier content (file restored, removed one back): still a run, fresh key
    write(target, original)
    write(raw / "2017" / "operateurs" / "PDI-2017-0005.xlsx", b"wb 5")
    restored = daemon.settle()
    assert len(restored) == 1
    assert restored[0].tags["bilan/drop_digest"] == first[0].tags["bilan/drop_digest"]
    assert restored[0].run_key not in {first[0].run_key, changed[0].run_key, removed[0].run_key}
    assert len(daemon.launched) == 4


def recorded_publication(tmp_path: Path, monkeypatch, files: dict) -> tuple[Path, dict]:
    """A warehouse dir whose state file records a publication of ``files`` (source_file →
    (path, convention)) as they are now, in state.record_publication's format; the record."""
    import json

    from dagster_project import state

    wh = tmp_path / "wh"
    wh.mkdir()
    monkeypatch.setenv("BILAN_WAREHOUSE_DIR", str(wh))
    record = {sf: [f.stat().st_size, f.stat().st_mtime_ns, "sha", conv]
              for sf, (f, conv) in files.items()}
    state.state_path(wh).write_text(json.dumps({"version": state.STATE_VERSION, "files": record}))
    return wh, record


def test_touching_an_older_workbook_of_a_convention_gives_one_run(drop, tmp_path, monkeypatch):
    # Touched files start nothing, except one that makes an older workbook of a convention its
    # newest: the bilan counts the newest, so the published figures must be rebuilt.
    import json

    from dagster_project import state

    raw, daemon = drop
    old = write(raw / "2017" / "operateurs" / "PDI-2017-0001 v1.xlsx", b"version 1")
    new = write(raw / "2017" / "operateurs" / "PDI-2017-0001 v2.xlsx", b"version 2")
    other = write(raw / "2017" / "operateurs" / "PDI-2017-0002.xlsx", b"only one")
    os.utime(old, ns=(time.time_ns(), new.stat().st_mtime_ns - 10_000_000_000))
    assert len(daemon.settle()) == 1
    wh, files = recorded_publication(tmp_path, monkeypatch, {
        f"2017/operateurs/{f.name}": (f, conv)
        for f, conv in ((old, "PDI-2017-0001"), (new, "PDI-2017-0001"), (other, "PDI-2017-0002"))
    })

    os.utime(new, ns=(time.time_ns(), new.stat().st_mtime_ns + 1_000_000_000))  # still newest
    os.utime(other, ns=(time.time_ns(), other.stat().st_mtime_ns + 1_000_000_000))  # alone
    assert daemon.settle() == []
    assert "contenus inchangés" in daemon.last.skip_message

    os.utime(old, ns=(time.time_ns(), new.stat().st_mtime_ns + 1_000_000_000))  # now the newest
    runs = daemon.settle()
    assert len(runs) == 1
    assert state.winner_changes(raw, wh) == {
        "PDI-2017-0001": "2017/operateurs/PDI-2017-0001 v1.xlsx"
    }
    # touched again before any publication: that run is already requested
    os.utime(old, ns=(time.time_ns(), old.stat().st_mtime_ns + 1_000_000_000))
    assert daemon.settle() == []

    # that run goes on (its ingestion removed the record) and v1 was published; meanwhile v2 is
    # touched back to the newest: judged once the publication is on record, not forgotten
    state.invalidate(wh)
    assert state.winner_changes(raw, wh) is None
    v2_before = new.stat().st_mtime_ns
    os.utime(new, ns=(time.time_ns(), old.stat().st_mtime_ns + 1_000_000_000))
    assert daemon.settle() == []
    assert "jugé une fois une publication enregistrée" in daemon.last.skip_message
    assert daemon.tick() == []  # still nothing on record
    files[f"2017/operateurs/{old.name}"][1] = old.stat().st_mtime_ns  # as the run's loader saw
    files[f"2017/operateurs/{new.name}"][1] = v2_before
    state.state_path(wh).write_text(json.dumps({"version": state.STATE_VERSION, "files": files}))
    runs = daemon.tick()
    assert len(runs) == 1 and "bilan/drop_digest" in runs[0].tags
    assert daemon.tick() == []


def test_touching_an_older_finance_export_gives_one_run(drop, tmp_path, monkeypatch):
    # The newest export counts a mandate number found in two: a touch that brings an older
    # export first changes the published amount, and gets its run; other touches get none.

    from dagster_project import state

    raw, daemon = drop
    older = write(raw / "2017" / "finances" / "z_janvier.csv", b"export 1")
    newer = write(raw / "2017" / "finances" / "a_corrige.csv", b"export 2")
    os.utime(older, ns=(time.time_ns(), newer.stat().st_mtime_ns - 10_000_000_000))
    assert len(daemon.settle()) == 1
    wh, _ = recorded_publication(tmp_path, monkeypatch,
                                 {f"2017/finances/{f.name}": (f, None) for f in (older, newer)})

    os.utime(newer, ns=(time.time_ns(), newer.stat().st_mtime_ns + 1_000_000_000))  # still first
    assert daemon.settle() == []
    assert "contenus inchangés" in daemon.last.skip_message
    os.utime(older, ns=(time.time_ns(), newer.stat().st_mtime_ns + 1_000_000_000))  # now first
    runs = daemon.settle()
    assert len(runs) == 1
    assert state.winner_changes(raw, wh) == {"exports 2017": "z_janvier.csv > a_corrige.csv"}
    from dagster_project.sensors.raw_drop import _touched_phrase  # what the tick logs

    assert _touched_phrase(state.winner_changes(raw, wh)) == (
        " ; mêmes contenus, mais les exports financiers comptent désormais dans un autre ordre "
        "(le plus récent d'abord) pour 2017 (z_janvier.csv > a_corrige.csv)")
    os.utime(older, ns=(time.time_ns(), older.stat().st_mtime_ns + 1_000_000_000))  # again
    assert daemon.settle() == []  # that run is already requested


def test_new_exercise_folder_adds_partition_and_is_in_range(drop):
    raw, daemon = drop
    burst(raw, daemon, "2017", 5)
    assert len(daemon.settle()) == 1
    instance = daemon.instance
    assert instance.get_dynamic_partitions("exercice") == ["2017"]

    burst(raw, daemon, "2019", 12, per_tick=4)
    write(raw / "notes" / "lisez-moi.txt", b"not an exercise folder")
    runs = daemon.settle()
    assert len(runs) == 1
    requests = daemon.last.dynamic_partitions_requests
    assert [(r.partitions_def_name, list(r.partition_keys)) for r in requests] == [
        ("exercice", ["2019"])
    ]
    assert instance.get_dynamic_partitions("exercice") == ["2017", "2019"]
    tags = runs[0].tags
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        keys = EXERCICE_PARTITIONS.get_partition_keys_in_range(
            dg.PartitionKeyRange(tags[RANGE_START_TAG], tags[RANGE_END_TAG])
        )
    assert keys == ["2017", "2019"]


def test_empty_raw_dir_requests_nothing(drop):
    _raw, daemon = drop
    assert daemon.settle() == []
    assert daemon.instance.get_dynamic_partitions("exercice") == []


# ------------------------------------------------------------------------------ webhook alert


@dg.asset
def controle():
    return 1


@dg.asset_check(asset=controle, blocking=True)
def total_conforme():
    return dg.AssetCheckResult(
        passed=False, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"observed": 15866992, "expected": 15866991},
        description="montant payé différent du bilan publié",
    )


@dg.asset(deps=[controle])
def publication():
    return 2


MINI = dg.Definitions(
    assets=[controle, publication], asset_checks=[total_conforme],
    jobs=[dg.define_asset_job("mini_job")],
)


def failure_context(result, instance):
    """The context the failure sensor gets for this failed run."""
    return dg.build_run_status_sensor_context(
        sensor_name="alerte_echec_run",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    )


def test_failed_run_posts_what_failed_to_the_webhook(tmp_path, monkeypatch, shared_instance):
    monkeypatch.setenv("BILAN_WAREHOUSE_DIR", str(tmp_path / "no_warehouse"))
    monkeypatch.setenv("BILAN_DAGSTER_URL", "http://dagster.interne:3000/")
    with webhook_server() as (url, received):
        instance = shared_instance
        result = MINI.resolve_job_def("mini_job").execute_in_process(
            instance=instance, raise_on_error=False
        )
        assert not result.success
        context = failure_context(result, instance)
        monkeypatch.delenv("BILAN_ALERT_WEBHOOK", raising=False)
        skipped = run_failure_alert(context)
        assert isinstance(skipped, dg.SkipReason) and received == []

        monkeypatch.setenv("BILAN_ALERT_WEBHOOK", url)
        run_failure_alert(context)
    assert len(received) == 1
    post = received[0]
    assert post["path"] == "/hooks/bilan" and post["content_type"].startswith("application/json")
    body = post["json"]
    run_id = result.run_id
    assert body["run_id"] == run_id and body["job"] == "mini_job"
    assert body["url"] == f"http://dagster.interne:3000/runs/{run_id}"
    assert body["failed_checks"] == [
        {"check": "controle:total_conforme", "severity": "ERROR",
         "observed_vs_expected": "observé 15866992 / attendu 15866991",
         "description": "montant payé différent du bilan publié"}
    ]
    text = body["text"]
    assert "échec du run mini_job" in text
    assert "controle:total_conforme [ERROR] observé 15866992 / attendu 15866991" in text
    assert text.endswith(body["url"])
    assert len(text) < 1500


@dg.asset_check(asset=controle, blocking=False)
def paiements():
    return dg.AssetCheckResult(
        passed=False, severity=dg.AssetCheckSeverity.WARN,
        description="exercice 2019 : 2 paiement(s) refusé(s) non compté(s)",
    )


@dg.asset(deps=[controle])
def publication_refusee():
    raise RuntimeError("Publication refusée : le contrôle X a échoué")


MINI_WARN = dg.Definitions(
    assets=[controle, publication_refusee], asset_checks=[paiements],
    jobs=[dg.define_asset_job("mini_warn_job")],
)


def test_alert_names_the_failed_step_before_a_standing_warning(tmp_path, monkeypatch,
                                                               shared_instance):
    """A failed warning (it may stay for weeks) never hides the step that failed the run."""
    monkeypatch.setenv("BILAN_WAREHOUSE_DIR", str(tmp_path / "no_warehouse"))
    result = MINI_WARN.resolve_job_def("mini_warn_job").execute_in_process(
        instance=shared_instance, raise_on_error=False
    )
    assert not result.success
    text = build_message(failure_context(result, shared_instance).for_run_failure())[
        "text"].splitlines()
    step = next(i for i, t in enumerate(text) if t.startswith("- étape publication_refusee"))
    warn = next(i for i, t in enumerate(text) if t.startswith("- avertissement"))
    assert "Publication refusée" in text[step] and step < warn
    assert text[warn].endswith("[WARN] exercice 2019 : 2 paiement(s) refusé(s) non compté(s)")


@dg.asset
def rapport_casse():
    raise RuntimeError("le navigateur a quitté")


MINI_ALL = dg.Definitions(
    assets=[controle, rapport_casse], asset_checks=[total_conforme, paiements],
    jobs=[dg.define_asset_job("mini_all_job")],
)


def test_cli_lists_errors_then_failed_steps_then_warnings(shared_instance):
    """`bilan run`'s failure lines: what failed the run first, a standing warning last and
    without its metadata."""
    from dagster_project.cli import check_failures

    result = MINI_ALL.resolve_job_def("mini_all_job").execute_in_process(
        instance=shared_instance, raise_on_error=False
    )
    assert not result.success
    lines = check_failures(result)
    assert [line.split()[:2] for line in lines] == [
        ["check", "controle:total_conforme"], ["étape", "rapport_casse"],
        ["check", "controle:paiements"]]
    assert "15866992" in lines[0]  # an error's metadata: observed vs expected
    # the exception the op raised, not Dagster's wrapper ("Error occurred while executing op")
    assert "le navigateur a quitté" in lines[1] and "Error occurred" not in lines[1]
    assert lines[2].endswith("(WARN) a échoué : exercice 2019 : 2 paiement(s) refusé(s) "
                             "non compté(s)")


@dg.asset_check(
    asset=controle, blocking=False,
    description="sortie(s) datée(s) après la fin de la convention : comptées en cours",
)
def regle_dbt():
    # as dagster-dbt reports a dbt test: the description is the spec's, the result has none
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"dagster_dbt/failed_row_count": 3})


MINI_SPEC = dg.Definitions(
    assets=[controle, publication_refusee], asset_checks=[regle_dbt],
    jobs=[dg.define_asset_job("mini_spec_job")],
)


def test_a_check_without_result_description_is_named_by_its_spec(tmp_path, monkeypatch,
                                                                 shared_instance):
    """dbt tests' evaluations carry no description: the CLI and the alert say what the check
    means from its spec (a dbt test's `config.meta.description`), with its failing rows."""
    from dagster_project.cli import check_failures

    monkeypatch.setenv("BILAN_WAREHOUSE_DIR", str(tmp_path / "no_warehouse"))
    result = MINI_SPEC.resolve_job_def("mini_spec_job").execute_in_process(
        instance=shared_instance, raise_on_error=False
    )
    assert not result.success
    [line] = [x for x in check_failures(result, metadata=False) if "regle_dbt" in x]
    assert line.endswith("(WARN) a échoué : sortie(s) datée(s) après la fin de la convention : "
                         "comptées en cours (observé 3 ligne(s) en échec / attendu 0)")
    context = dg.build_run_status_sensor_context(
        sensor_name="alerte_echec_run",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=shared_instance,
        dagster_run=result.dagster_run,
        repository_def=MINI_SPEC.get_repository_def(),
    ).for_run_failure()
    [check] = build_message(context)["failed_checks"]
    assert check["description"].startswith("sortie(s) datée(s) après la fin")
    assert check["observed_vs_expected"] == "observé 3 ligne(s) en échec / attendu 0"


def test_the_alert_also_watches_runs_of_bilan_run():
    """``bilan run`` executes the job in process: its runs carry no code location, and a run
    failure sensor matches only its own location's runs unless told to watch all (Dagster's
    matching treats a missing location as a match only in tests, hence this check of the
    definition): failed CLI runs posted nothing while the daemon ran."""
    assert run_failure_alert._monitor_all_code_locations is True


def test_the_alert_lists_a_ranges_exercises_in_order(tmp_path):
    """Partitions added 2017, 2019, then 2016: the nightly run's range is 2017 → 2016 in the
    instance's order, and the alert read 'exercice(s) 2017-2016, déclenché par manuel'."""
    from dagster_project.partitions import all_partitions_tags
    from dagster_project.sensors.alerts import run_exercices

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("exercice", ["2017", "2019", "2016"])
    tags = all_partitions_tags(instance)
    assert run_exercices(instance, tags) == "2016, 2017, 2019"
    instance.delete_dynamic_partition("exercice", "2019")
    assert run_exercices(instance, tags) == "2016, 2017"
    assert run_exercices(instance, {"dagster/asset_partition_range_start": "2017",
                                    "dagster/asset_partition_range_end": "2015"}) == "2017 à 2015"


def test_the_alert_says_who_launched_the_run_in_french():
    from dagster_project.sensors.alerts import launched_by

    assert launched_by({"bilan/trigger": "schedule"}) == "lancé par la planification nocturne"
    assert launched_by({"bilan/trigger": "raw_drop_sensor"}) == "lancé par le capteur de dépôts"
    assert launched_by({"bilan/launcher": "cli"}) == "lancé par bilan run"
    assert launched_by({}) == "lancé à la main (UI ou CLI Dagster)"
    # a re-execution carries its parent's tags: said to be one, with the first run's origin
    # (it read "lancé par le capteur de dépôts", or "par bilan run" for the UI's copy)
    sensor = {"bilan/trigger": "raw_drop_sensor"}
    cli = {"bilan/launcher": "cli", "bilan/pid": "41", "bilan/host": "h"}
    assert launched_by(sensor, "c71d5b4e-aaaa", False, sensor) == (
        "reprise depuis l'UI ou l'API Dagster du run c71d5b4e, lancé par le capteur de dépôts")
    assert launched_by(cli, "c1e8d0cf-bbbb", False, cli) == (
        "reprise depuis l'UI ou l'API Dagster du run c1e8d0cf, lancé par bilan run")
    assert launched_by({**sensor, **cli}, "c1e8d0cf-bbbb", True, sensor) == (
        "reprise par bilan run --from-failure du run c1e8d0cf, lancé par le capteur de dépôts")
    assert launched_by({**sensor, "dagster/retry_number": "1"}, "c71d5b4e-aaaa", False,
                       sensor) == ("relance automatique du run c71d5b4e, lancé par le capteur "
                                   "de dépôts")
    assert launched_by(cli, "c1e8d0cf-bbbb", False, {}).endswith(  # a root without tags
        "lancé à la main (UI ou CLI Dagster)")


def test_bilan_run_closes_its_own_dead_runs_not_their_copies(tmp_path):
    """``bilan run`` closes an unfinished run of a killed ``bilan run``; a re-execution of such a
    run from the UI carries the same tags (the parent's dead pid) while the daemon runs it: the
    next ``bilan run`` closed it as dead, in the middle of its steps. Dagster's own runs have an
    origin in the code location, never copied; ``bilan run``'s have none."""
    import dagster as dg
    from dagster._core.remote_origin import (
        RegisteredCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )

    from dagster_project.cli import reap_dead_runs

    wh = tmp_path / "warehouse"
    dead = {"bilan/launcher": "cli", "bilan/pid": "999999999", "bilan/host": "ailleurs",
            "bilan/warehouse": str(wh)}
    daemon = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=RegisteredCodeLocationOrigin("bilan_insertion"),
            repository_name="__repository__"),
        job_name="bilan_nightly")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        def add(run_id: str, status: str, tags: dict, parent: str | None = None,
                origin: RemoteJobOrigin | None = None) -> None:
            instance.add_run(dg.DagsterRun(
                job_name="bilan_nightly", run_id=run_id, status=dg.DagsterRunStatus[status],
                tags=tags, parent_run_id=parent, root_run_id=parent, remote_job_origin=origin))

        add("killed", "STARTED", dead)          # a bilan run killed mid-run: ours, dead
        add("failed", "FAILURE", dead)
        add("ui-copy", "STARTED", dead, parent="failed", origin=daemon)  # the UI's: not ours
        add("retry", "STARTED", {**dead, "dagster/retry_number": "1"}, parent="ui-copy",
            origin=daemon)                      # the daemon's retry of that copy: not ours
        add("resumed", "STARTED", {**dead, "bilan/pid": "999999998"}, parent="deleted")
        assert sorted(reap_dead_runs(instance, wh)) == ["killed", "resumed"]
        statuses = {r.run_id: r.status.value for r in instance.get_runs()}
        assert statuses["ui-copy"] == statuses["retry"] == "STARTED"
        assert statuses["killed"] == statuses["resumed"] == "FAILURE"
