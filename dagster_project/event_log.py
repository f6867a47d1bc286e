"""Dagster's SQLite event log, with one kept connection per database file, for every process.

Why: Dagster's SQLite event log builds a SQLAlchemy engine and opens a connection for every
event it stores (three or four for a check's evaluation: the run's file, the cross-run index, a
look for the checks' table), and closing the last connection to a file in WAL mode checkpoints
it, with its fsyncs. A nightly run stores ~720 events, four per dbt test: ~1,500 connections and
~8,000 fdatasync, 12 to 14 s of the run's main thread and ~7 s of CPU on a 2-core machine
(benchmarks/README.md, "What changed"). Kept open, the connections cost their statements.

What differs from Dagster's class, and nothing else:
- one engine per database file, holding one connection (the cross-run index and the runs written
  lately, :data:`KEPT_FILES` at most: a process that reads many runs keeps no more files open);
- ``PRAGMA synchronous=NORMAL`` on those connections, SQLite's advice for WAL mode: no crash
  corrupts the file, and a crash of the process loses nothing; a power cut or a crash of the
  operating system may roll back the last events written (the run's status, kept in another
  file, may then say more than its events);
- each write touches the run's ``.db`` file (a read does not: the watcher that it would wake
  reads): its events go to the ``-wal`` file beside it, and Dagster's watcher (the UI's live
  run log) looks at the ``.db`` file's changes;
- a table found once is not looked up again (Dagster looks for the checks' table at every
  check evaluation; tables are only ever added, by ``dagster instance migrate``);
- the connections are closed before the process forks (SQLite's connections must not cross a
  ``fork()``: the child's would share the parent's locks); they reopen at the next event.

Same files, same schema, same transactions: a process with Dagster's own class (a
``dagster.yaml`` without this project's ``instance_class``, another environment) reads and
writes them at the same time (WAL). Every process that makes its instance from ``dagster.yaml``
uses this one: the committed template names :class:`BilanInstance`
(``instance_class``), so the webserver, the daemon and the runs it launches do too, and
``bilan run`` also when its ``dagster.yaml`` is an older copy without it
(:func:`instance_with_kept_connections`, from ``cli._instance``). Only where ``dagster.yaml``
keeps Dagster's default SQLite storage: a storage configured otherwise (PostgreSQL in
production, README « Exploitation ») is left alone.
"""

from __future__ import annotations

import os
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import sqlalchemy as db
from dagster._core.instance import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

KEPT_FILES = 4  # the index, the run being written and a few read lately
DEFAULT_STORAGE = ("dagster._core.storage.sqlite_storage", "DagsterSqliteStorage")


def _tune(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


_OPEN: weakref.WeakSet[KeptConnectionsEventLogStorage] = weakref.WeakSet()
_HELD_ACROSS_FORK: list[KeptConnectionsEventLogStorage] = []


def _close_before_fork() -> None:
    """No connection crosses a fork: each storage's lock is held (no event half written) and its
    connections closed until the fork is done, in the parent and in the child."""
    for storage in list(_OPEN):
        storage._db_lock.acquire()  # noqa: SLF001
        _HELD_ACROSS_FORK.append(storage)
        storage._close_kept()  # noqa: SLF001


def _release_after_fork() -> None:
    while _HELD_ACROSS_FORK:
        _HELD_ACROSS_FORK.pop()._db_lock.release()  # noqa: SLF001


os.register_at_fork(before=_close_before_fork, after_in_parent=_release_after_fork,
                    after_in_child=_release_after_fork)


class KeptConnectionsEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` whose connections stay open between events."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_found: set[str] = set()
        super().__init__(base_dir, inst_data)
        _OPEN.add(self)

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # Dagster's names its own class
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, made at its first event (or the first after a fork)."""
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = db.create_engine(
            self.conn_string_for_shard(shard),
            poolclass=QueuePool, pool_size=1, max_overflow=2,
            # shared by the threads that store events, one at a time (the storage's lock)
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        db.event.listen(engine, "connect", _tune)
        self._engines[shard] = engine
        while len(self._engines) > KEPT_FILES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's, but for the engine kept instead of made and disposed of each time
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                sqlite = conn.connection.dbapi_connection
                before = sqlite.total_changes
                with conn.begin():
                    yield conn
                wrote = sqlite.total_changes != before
            # for Dagster's watcher, which watches this file: after a write only (a read that
            # touched it woke the UI's watcher, whose read touched it again: one core busy for
            # as long as a run's page stayed open)
            if wrote and shard != INDEX_SHARD_NAME:
                with suppress(OSError):  # (a run deleted meanwhile: nobody watches it)
                    os.utime(self.path_for_shard(shard))

    def has_table(self, table_name: str) -> bool:
        if table_name in self._tables_found:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_found.add(table_name)
        return found

    def _close_kept(self) -> None:
        while self._engines:
            self._engines.popitem()[1].dispose()  # the last connection to a file checkpoints it

    def dispose(self) -> None:
        with self._db_lock:
            self._close_kept()
        _OPEN.discard(self)
        super().dispose()


class BilanInstance(DagsterInstance):
    """The instance every process of this project makes from ``dagster.yaml`` (``instance_class``
    in dagster_home.template.yaml): the webserver, the daemon, the run workers it launches (the
    schedule's and the sensor's runs, the UI's), ``dagster`` commands. Dagster's own, but for
    its default SQLite event log, swapped for :class:`KeptConnectionsEventLogStorage` (same
    files): a run launched by the daemon stored its ~720 events through a connection opened,
    committed and closed for each, as ``bilan run`` did before it kept them (a Dagster-launched
    run with nothing to do spent 4.1 of its 4.7 s creating its run, an event per planned check).
    Any other event log (PostgreSQL, README « Exploitation ») is left as configured."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}  # no settings of its own

    @staticmethod
    def config_defaults(base_dir: str):
        return InstanceRef.config_defaults(base_dir)

    def __init__(self, *args, event_storage=None, ref: InstanceRef | None = None, **kwargs):
        data = ref.storage_data if ref is not None else None
        if (data is not None and (data.module_name, data.class_name) == DEFAULT_STORAGE
                and type(event_storage) is SqliteEventLogStorage):
            kept = KeptConnectionsEventLogStorage(event_storage._base_dir)  # noqa: SLF001
            event_storage.dispose()
            event_storage = kept
        super().__init__(*args, event_storage=event_storage, ref=ref, **kwargs)


def instance_with_kept_connections(home: str):
    """The instance of ``home`` (as ``DagsterInstance.from_config``), made with
    :class:`BilanInstance` even when ``dagster.yaml`` is an older copy of the template that does
    not name it (another ``instance_class`` is left as it is): its event log on kept connections
    when ``dagster.yaml`` keeps Dagster's default SQLite storage; else as is."""
    import dagster as dg

    ref = InstanceRef.from_dir(home)
    if ref.custom_instance_class_data is None:
        ref = ref._replace(custom_instance_class_data=ConfigurableClassData(
            __name__, BilanInstance.__name__, "{}"))
    return dg.DagsterInstance.from_ref(ref)
