"""Dagster resources: the warehouse (paths, connections, writer lock) and the dbt CLI.

The warehouse resource is the only way Dagster code touches DuckDB, so every step opens, uses and
closes its connection (dbt runs in a subprocess and needs the file free) and takes the writer lock
unless the CLI already holds it for the whole run.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from dagster_project import settings
from dagster_project.dbt_manifest import TARGET
from dagster_project.ingestion.warehouse import connect, ensure_private_dir, writer_lock

LOCK_HELD_ENV = "BILAN_WRITER_LOCK_HELD"


class WarehouseResource(dg.ConfigurableResource):
    """Where the raw files and the DuckDB files live; empty strings mean "from the environment"."""

    raw_dir: str = ""
    warehouse_dir: str = ""
    lock_timeout_s: float = 600.0

    def raw_path(self) -> Path:
        return Path(self.raw_dir).resolve() if self.raw_dir else settings.raw_dir()

    def dir_path(self) -> Path:
        return (
            Path(self.warehouse_dir).resolve() if self.warehouse_dir else settings.warehouse_dir()
        )

    def db_path(self) -> Path:
        return self.dir_path() / "bilan.duckdb"

    def marts_path(self) -> Path:
        return self.dir_path() / "marts.duckdb"

    def locked(
        self, holder: str, timeout_s: float | None = None
    ) -> contextlib.AbstractContextManager:
        """The warehouse writer lock (re-entrant for the CLI's own run), without a connection."""
        ensure_private_dir(self.dir_path())
        if os.environ.get(LOCK_HELD_ENV) == str(os.getpid()):
            return contextlib.nullcontext()
        return writer_lock(self.dir_path(), holder=holder,
                           timeout_s=self.lock_timeout_s if timeout_s is None else timeout_s)

    @contextlib.contextmanager
    def writer(self, holder: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection under the writer lock (re-entrant for the CLI's own run)."""
        with self.locked(holder):
            con = connect(self.db_path())
            try:
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.db_path(), read_only=True)
        try:
            yield con
        finally:
            con.close()


def dbt_executable() -> str:
    """The dbt installed beside this interpreter (the venv's bin/ is not always on PATH), as
    ``bilan-dbt``: dbt itself, ending with the process that launched it (a ``kill -9`` of ``bilan
    run`` must not leave a dbt writing the warehouse; :mod:`dagster_project.dbt_guard`)."""
    for name in ("bilan-dbt", "dbt"):
        candidate = Path(sys.executable).parent / name
        if candidate.exists():
            return str(candidate)
    return "dbt"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        dbt_executable=dbt_executable(),
        project_dir=str(settings.DBT_PROJECT_DIR),
        profiles_dir=str(settings.DBT_PROJECT_DIR),
        target=TARGET,  # as the manifest's parse, whose cache the builds reuse (dbt_manifest.py)
    )
