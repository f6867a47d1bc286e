"""The event log `bilan run` writes on kept connections (dagster_project/event_log.py).

Real instances on temp DAGSTER_HOMEs configured by the committed template; what one writes, the
other reads, with Dagster's own class on the same files."""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

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


@contextmanager
def dagsters_own(home: Path):
    """The instance of ``home`` with Dagster's own classes (its SQLite event log opening a
    connection per event), as a process without this project's instance class makes it."""
    from dagster._core.instance.ref import InstanceRef

    ref = InstanceRef.from_dir(str(home))._replace(custom_instance_class_data=None)
    instance = dg.DagsterInstance.from_ref(ref)
    try:
        assert type(instance) is dg.DagsterInstance
        yield instance
    finally:
        instance.dispose()


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
        run_id = materialize(instance)
        # kept open: the run's events are still in its WAL, not checkpointed into its file
        assert (home / "history" / "runs" / f"{run_id}.db-wal").exists()
        with dagsters_own(home) as theirs:
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


def event(run_id: str, i: int) -> EventLogEntry:
    return EventLogEntry(
        error_info=None, level="INFO", user_message=f"événement {i}", run_id=run_id,
        timestamp=time.time(), dagster_event=DagsterEvent(
            DagsterEventType.ENGINE_EVENT.value, "job", event_specific_data=EngineEventData()))


@pytest.mark.parametrize("reader_class", [event_log.KeptConnectionsEventLogStorage,
                                          SqliteEventLogStorage])
def test_the_uis_live_log_sees_each_event_as_it_is_written(tmp_path, reader_class):
    """The UI follows a run's log with Dagster's watcher on the run's .db file; kept open, a
    connection writes to the -wal file beside it: each write touches the .db file too. The
    webserver's storage is ours (BilanInstance) or, without the project's instance class,
    Dagster's."""
    writer = event_log.KeptConnectionsEventLogStorage(str(tmp_path))
    reader = reader_class(str(tmp_path))
    seen: list = []
    try:
        writer.store_event(event("r1", 0))
        reader.watch("r1", None, lambda entry, cursor: seen.append(entry.user_message))
        time.sleep(0.5)
        written = {f"événement {i}" for i in range(1, 21)}
        for i in range(1, 21):
            writer.store_event(event("r1", i))
            time.sleep(0.05)
        deadline = time.monotonic() + 10
        while not written <= set(seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (tmp_path / "r1.db-wal").exists()  # written, not checkpointed
        assert written <= set(seen), sorted(written - set(seen))
    finally:
        reader.dispose()
        writer.dispose()


def test_a_read_does_not_wake_the_uis_watcher(tmp_path):
    """A run's page keeps a watcher on the run's file; each change wakes it, and it reads the
    run's new events. Were a read to touch the file as a write does, that read would wake the
    watcher again, for ever: one core busy while the page stays open (cold review, 0c1b47b)."""
    storage = event_log.KeptConnectionsEventLogStorage(str(tmp_path))
    reads = []
    real = storage.get_records_for_run
    storage.get_records_for_run = lambda *a, **k: reads.append(1) or real(*a, **k)
    try:
        storage.store_event(event("r1", 0))
        storage.watch("r1", None, lambda entry, cursor: None)  # as dagster_graphql: never done
        time.sleep(1)
        before = len(reads)
        storage.get_records_for_run("r1")  # another query of the run's page
        time.sleep(2)
        assert len(reads) - before - 1 <= 2, len(reads) - before - 1  # not thousands
        storage.store_event(event("r1", 1))  # a write still wakes it
        deadline = time.monotonic() + 10
        while len(reads) == before + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(reads) > before + 1
    finally:
        storage.dispose()


def test_no_connection_crosses_a_fork(tmp_path):
    """SQLite's connections must not cross a fork (the child's would share the parent's locks:
    the parent closing its own deleted the WAL the child was writing, 2 events of 12 left). They
    are closed before the fork; parent and child reopen their own."""
    storage = event_log.KeptConnectionsEventLogStorage(str(tmp_path))
    storage.store_event(event("r1", 0))
    pid = os.fork()
    if pid == 0:  # the child writes on while the parent closes its connections
        try:
            storage.store_event(event("r1", 1))
            time.sleep(1.0)
            for i in range(2, 12):
                storage.store_event(event("r1", i))
        finally:
            os._exit(0)
    time.sleep(0.5)
    storage.store_event(event("r1", 12))  # the parent's connections work after the fork
    storage.dispose()
    os.waitpid(pid, 0)
    fresh = SqliteEventLogStorage(str(tmp_path))
    try:
        assert len(fresh.get_records_for_run("r1").records) == 13
    finally:
        fresh.dispose()


def test_every_process_reading_the_template_keeps_its_connections(tmp_path):
    """The template names BilanInstance: the webserver, the daemon and the runs the daemon
    launches (each makes its instance from dagster.yaml or from a ref of it) keep their
    connections as `bilan run` does; Dagster's own class still reads what they write."""
    home = tmp_path / "home"
    with project_instance(home) as instance:
        assert type(instance).__name__ == "BilanInstance"
        assert type(instance.event_log_storage) is event_log.KeptConnectionsEventLogStorage
        run_id = materialize(instance)
        # a run worker's instance: made from the launching process's ref
        worker = dg.DagsterInstance.from_ref(instance.get_ref())
        try:
            assert type(worker.event_log_storage) is event_log.KeptConnectionsEventLogStorage
            assert worker.get_run_by_id(run_id).is_success
        finally:
            worker.dispose()
    with dagsters_own(home) as theirs:
        assert theirs.get_run_by_id(run_id).is_success


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
    # nor does the template's instance class, in the daemon's or the webserver's process
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert type(instance).__name__ == "BilanInstance"
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
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
    # a dagster.yaml copied before the template named the instance class: bilan run keeps its
    # connections all the same
    older = tmp_path / "older"
    older.mkdir()
    block = ("instance_class:\n  module: dagster_project.event_log\n  class: BilanInstance\n"
             "  config: {}\n")
    assert block in TEMPLATE.read_text()
    (older / "dagster.yaml").write_text(TEMPLATE.read_text().replace(block, ""))
    plain = dg.DagsterInstance.from_config(str(older))  # what Dagster alone makes of it
    try:
        assert type(plain) is dg.DagsterInstance
    finally:
        plain.dispose()
    instance = event_log.instance_with_kept_connections(str(older))
    try:
        assert type(instance) is event_log.BilanInstance
        assert type(instance.event_log_storage) is event_log.KeptConnectionsEventLogStorage
        materialize(instance)
    finally:
        instance.dispose()


def test_bilan_run_closes_its_connections(run_2017):
    """The CLI disposes of its instance: every file checkpointed (the runs', the index, the
    schedules'), no WAL left beside them (as Dagster's class leaves none)."""
    home = run_2017.dagster_home
    assert list((home / "history" / "runs").glob("*.db"))
    assert not list(home.rglob("*-wal"))
