"""The event log `bilan run` writes on kept connections (dagster_project/event_log.py).

Real instances on temp DAGSTER_HOMEs configured by the committed template; what one writes, the
other reads, with Dagster's own class on the same files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from dagster_project import event_log
from tests.orchestration_support import TEMPLATE, project_instance


@dg.asset
def compte() -> int:
    return 1


@dg.asset_check(asset=compte)
def compte_positif() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, metadata={"observe": 1})


def kept(home: Path) -> dg.DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEMPLATE, home / "dagster.yaml")
    return event_log.instance_with_kept_connections(str(home))


def materialize(instance: dg.DagsterInstance) -> str:
    result = dg.materialize([compte, compte_positif], instance=instance)
    assert result.success
    return result.run_id


def open_files(suffix: str) -> list[str]:
    paths = [os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")]
    return [p for p in paths if p.endswith(suffix)]


def test_what_bilan_run_writes_dagsters_own_class_reads_and_the_reverse(tmp_path):
    home = tmp_path / "home"
    instance = kept(home)
    try:
        storage = instance.event_log_storage
        assert type(storage) is event_log.KeptConnectionsEventLogStorage
        run_id = materialize(instance)  # kept open: nothing checkpointed yet
        with project_instance(home) as theirs:
            assert type(theirs.event_log_storage).__name__ == "SqliteEventLogStorage"
            assert theirs.get_run_by_id(run_id).is_success
            mat = theirs.get_latest_materialization_event(dg.AssetKey("compte"))
            assert mat.run_id == run_id
            check = theirs.event_log_storage.get_latest_asset_check_execution_by_key(
                [dg.AssetCheckKey(dg.AssetKey("compte"), "compte_positif")])
            [execution] = check.values()
            assert execution.run_id == run_id and execution.status.value == "SUCCEEDED"
            # the reverse, while the kept connections stay open
            other = materialize(theirs)
        assert instance.get_latest_materialization_event(dg.AssetKey("compte")).run_id == other
        assert len(instance.get_records_for_run(other).records) > 10
        # WAL mode's documented setting on the kept connections
        with storage.index_connection() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        instance.dispose()
    # closed: every file checkpointed, nothing left beside them
    assert not list((home / "history" / "runs").glob("*-wal"))
    assert not open_files(".db")


def test_a_busy_process_keeps_a_few_files_open_not_one_per_run(tmp_path):
    instance = kept(tmp_path / "home")
    try:
        runs = [materialize(instance) for _ in range(event_log.KEPT_FILES + 3)]
        for run_id in runs:  # read back, as the webserver would, each run's own file
            assert instance.get_records_for_run(run_id).records
        assert len(instance.event_log_storage._engines) <= event_log.KEPT_FILES
        assert 0 < len(open_files(".db")) <= event_log.KEPT_FILES
    finally:
        instance.dispose()


def test_a_forked_child_writes_on_connections_of_its_own(tmp_path):
    """A child forked after the parent wrote (a process pool, a daemon's fork) must not share its
    parent's SQLite connections: it opens its own, and the parent's still work after it."""
    instance = kept(tmp_path / "home")
    try:
        materialize(instance)
        pid = os.fork()
        if pid == 0:  # the child: exit status 0 only if its run succeeded on its own files
            code = 1
            try:
                ok = dg.materialize([compte], instance=instance).success
                [(owner, _)] = [instance.event_log_storage._engines["index"]]
                code = 0 if ok and owner == os.getpid() else 1
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        materialize(instance)
        assert len(instance.get_runs()) == 3
    finally:
        instance.dispose()


def test_a_storage_configured_otherwise_is_left_alone(tmp_path):
    """Only Dagster's default SQLite storage gets kept connections: a dagster.yaml naming its
    storages (here Dagster's own classes, as PostgreSQL's would be named) is opened as it is."""
    home = tmp_path / "home"
    home.mkdir()
    runs = tmp_path / "ailleurs"
    (home / "dagster.yaml").write_text(
        TEMPLATE.read_text() + "\n"
        f"run_storage:\n  module: dagster._core.storage.runs\n  class: SqliteRunStorage\n"
        f"  config:\n    base_dir: {runs}\n"
        f"event_log_storage:\n  module: dagster._core.storage.event_log\n"
        f"  class: SqliteEventLogStorage\n  config:\n    base_dir: {runs}\n"
        f"schedule_storage:\n  module: dagster._core.storage.schedules\n"
        f"  class: SqliteScheduleStorage\n  config:\n    base_dir: {runs}\n"
    )
    instance = event_log.instance_with_kept_connections(str(home))
    try:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
        materialize(instance)
        assert list(runs.glob("*.db"))
    finally:
        instance.dispose()


def test_bilan_run_opens_its_instance_with_kept_connections(tmp_path, monkeypatch):
    from dagster_project import cli

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    instance = cli._instance()  # a new home: made from the committed template
    try:
        assert type(instance.event_log_storage) is event_log.KeptConnectionsEventLogStorage
        assert (tmp_path / "home" / "dagster.yaml").read_text() == TEMPLATE.read_text()
    finally:
        instance.dispose()
