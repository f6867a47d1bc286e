"""Dagster's SQLite event log, with one kept connection per database file, for `bilan run`.

Why: Dagster's SQLite event log builds a SQLAlchemy engine and opens a connection for every
event it stores (three for a check's evaluation: the run's file, then the cross-run index twice),
and closing the last connection to a file in WAL mode checkpoints it, with its fsyncs. A nightly
run stores ~720 events, four per dbt test: ~1,500 connections and ~8,000 fdatasync, 12 to 14 s of
the run's main thread and ~7 s of CPU on a 2-core machine (benchmarks/README.md, "Dagster's
event log"). Kept open, the connections cost their statements only.

What differs from Dagster's class, and nothing else:
- one engine per database file, holding one connection (the cross-run index and the runs written
  lately, :data:`KEPT_FILES` at most: a process that reads many runs keeps no more files open);
- ``PRAGMA synchronous=NORMAL`` on those connections, SQLite's advice for WAL mode: a crash of
  the process or of the machine never corrupts the file; a power cut may lose the last events
  written, of a run that died with the machine anyway;
- a table found once is not looked up again (Dagster checks for the checks' table at every
  check evaluation; tables are only ever added, by ``dagster instance migrate``).

Same files, same schema, same transactions: the webserver, the daemon and ``dagster`` commands
read and write them with Dagster's own class at the same time (WAL). Only the instance the
``bilan run`` process opens uses this one (:func:`instance_with_kept_connections`, from
``cli._instance``), and only where ``dagster.yaml`` keeps Dagster's default SQLite storage: a
storage configured otherwise (PostgreSQL in production, README « Exploitation ») is left alone.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

KEPT_FILES = 4  # the index, the run being written and a few read lately
DEFAULT_STORAGE = ("dagster._core.storage.sqlite_storage", "DagsterSqliteStorage")


def _tune(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class KeptConnectionsEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` whose connections stay open between events."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, tuple[int, Engine]] = OrderedDict()
        self._tables_found: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # Dagster's names its own class
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, made once per process (a forked child never uses its parent's
        connections: it makes its own, and leaves the parent's alone)."""
        kept = self._engines.get(shard)
        if kept is not None and kept[0] == os.getpid():
            self._engines.move_to_end(shard)
            return kept[1]
        engine = db.create_engine(
            self.conn_string_for_shard(shard),
            poolclass=QueuePool, pool_size=1, max_overflow=2,
            # shared by the threads that store events, one at a time (the storage's lock)
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        db.event.listen(engine, "connect", _tune)
        self._engines[shard] = (os.getpid(), engine)
        while len(self._engines) > KEPT_FILES:
            _, (pid, oldest) = self._engines.popitem(last=False)
            if pid == os.getpid():
                oldest.dispose()
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
                with conn.begin():
                    yield conn

    def has_table(self, table_name: str) -> bool:
        if table_name in self._tables_found:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables_found.add(table_name)
        return found

    def dispose(self) -> None:
        while self._engines:
            _, (pid, engine) = self._engines.popitem()
            if pid == os.getpid():
                engine.dispose()  # the last connection to a file checkpoints its WAL
        super().dispose()


class KeptConnectionsStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage (runs, event log, schedules), with the event log above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        default = self._event_log_storage
        self._event_log_storage = KeptConnectionsEventLogStorage(default._base_dir)  # noqa: SLF001
        default.dispose()

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # Dagster's names its own class
        return cls.from_local(inst_data=inst_data, **config_value)


def instance_with_kept_connections(home: str):
    """The instance of ``home`` (as ``DagsterInstance.from_config``), its event log on kept
    connections when ``dagster.yaml`` keeps Dagster's default SQLite storage; else as is."""
    import dagster as dg

    ref = InstanceRef.from_dir(home)
    data = ref.storage_data
    if data is not None and (data.module_name, data.class_name) == DEFAULT_STORAGE:
        ref = ref._replace(storage_data=ConfigurableClassData(
            __name__, KeptConnectionsStorage.__name__, data.config_yaml))
    return dg.DagsterInstance.from_ref(ref)
