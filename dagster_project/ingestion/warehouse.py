"""The internal DuckDB warehouse: location, owner-only permissions, raw DDL, writer lock, retries.

DuckDB allows one writer process per file. Inside Dagster, writer steps share a concurrency pool
of 1; outside (two ``make run`` at once), :func:`writer_lock` serialises them with an OS file lock
that dies with its holder (no stale lock after a SIGKILL) and names the holder when it times out.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

WAREHOUSE_FILE = "bilan.duckdb"
MARTS_FILE = "marts.duckdb"
LOCK_FILE = ".bilan-writer.lock"

RAW_DDL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.raw_actions (
    exercice INTEGER, num_convention VARCHAR, operateur VARCHAR, siret VARCHAR,
    intitule VARCHAR, code_thematique VARCHAR, date_debut DATE, date_fin DATE, etp DOUBLE,
    nb_referents INTEGER, accueils_individuels INTEGER, problemes_mobilite_resolus INTEGER,
    lieux_acces_multimedia INTEGER, certifications_delivrees INTEGER,
    source_file VARCHAR, source_sheet VARCHAR, source_row INTEGER, file_sha256 VARCHAR,
    loaded_at TIMESTAMP, run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.raw_participants (
    exercice INTEGER, num_convention VARCHAR, identifiant VARCHAR, date_entree DATE,
    date_sortie DATE, motif_sortie_brut VARCHAR, code_motif VARCHAR,
    mise_en_parcours_en_cours BOOLEAN,
    source_file VARCHAR, source_sheet VARCHAR, source_row INTEGER, file_sha256 VARCHAR,
    loaded_at TIMESTAMP, run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.raw_cer (
    exercice INTEGER, num_convention VARCHAR, identifiant VARCHAR, date_signature DATE,
    accompagnement_social BOOLEAN,
    source_file VARCHAR, source_sheet VARCHAR, source_row INTEGER, file_sha256 VARCHAR,
    loaded_at TIMESTAMP, run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.raw_mandats (
    exercice INTEGER, num_mandat VARCHAR, date_emission DATE, num_convention VARCHAR,
    tiers VARCHAR, siret VARCHAR, nature VARCHAR, montant DECIMAL(14, 2),
    source_file VARCHAR, source_sheet VARCHAR, source_row INTEGER, file_sha256 VARCHAR,
    loaded_at TIMESTAMP, run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS raw.manifest (
    exercice INTEGER, source_file VARCHAR PRIMARY KEY, file_name VARCHAR, kind VARCHAR,
    sha256 VARCHAR, size_bytes BIGINT, mtime_ns BIGINT, mtime TIMESTAMP, status VARCHAR,
    num_convention VARCHAR, replaced_by VARCHAR, detail VARCHAR, checked_against VARCHAR,
    rows_read INTEGER, rows_loaded INTEGER, rows_rejected INTEGER, run_id VARCHAR,
    loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS raw.manifest_history (
    exercice INTEGER, source_file VARCHAR, file_name VARCHAR, kind VARCHAR,
    sha256 VARCHAR, size_bytes BIGINT, mtime_ns BIGINT, mtime TIMESTAMP, status VARCHAR,
    num_convention VARCHAR, replaced_by VARCHAR, detail VARCHAR, checked_against VARCHAR,
    rows_read INTEGER, rows_loaded INTEGER, rows_rejected INTEGER, run_id VARCHAR,
    loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS raw.rejets (
    exercice INTEGER, source_file VARCHAR, file_name VARCHAR, sheet VARCHAR,
    row_number INTEGER, column_name VARCHAR, value VARCHAR, reason VARCHAR,
    run_id VARCHAR, rejected_at TIMESTAMP, montant DECIMAL(14, 2), num_mandat VARCHAR,
    num_convention VARCHAR
);
-- a refused payment line's amount, mandate number and convention came after the first
-- warehouses were made
ALTER TABLE raw.rejets ADD COLUMN IF NOT EXISTS montant DECIMAL(14, 2);
ALTER TABLE raw.rejets ADD COLUMN IF NOT EXISTS num_mandat VARCHAR;
ALTER TABLE raw.rejets ADD COLUMN IF NOT EXISTS num_convention VARCHAR;
"""

DATA_TABLES = ("raw_actions", "raw_participants", "raw_cer", "raw_mandats")


def warehouse_dir() -> Path:
    return Path(os.environ.get("BILAN_WAREHOUSE_DIR", "data/warehouse")).resolve()


def raw_dir() -> Path:
    return Path(os.environ.get("BILAN_RAW_DIR", "data/raw")).resolve()


def ensure_private_dir(path: Path) -> Path:
    """The warehouse folder holds participant identifiers: owner-only (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


# how DuckDB (and dbt relaying it) says the file is held by another process
LOCK_MARKERS = ("could not set lock", "conflicting lock", "lock on file", "database is locked",
                "resource temporarily unavailable")


def is_lock_error(exc: BaseException | str) -> bool:
    """The warehouse file could not be locked: another process holds it (transient)."""
    text = str(exc).lower()
    return any(marker in text for marker in LOCK_MARKERS)


def connect(path: Path, *, read_only: bool = False, attempts: int = 6) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, retrying a transient lock error with exponential backoff."""
    delay = 0.2
    for attempt in range(attempts):
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            if not read_only:
                for p in (path, Path(f"{path}.wal")):
                    with contextlib.suppress(FileNotFoundError):
                        os.chmod(p, 0o600)
            return con
        except duckdb.IOException as exc:
            if not is_lock_error(exc) or attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def init_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(RAW_DDL)


class WarehouseBusy(RuntimeError):
    """Another writer holds the warehouse for longer than we are willing to wait."""


@contextlib.contextmanager
def writer_lock(directory: Path, *, timeout_s: float = 60.0, holder: str = "") -> Iterator[None]:
    """Exclusive writer lock on the warehouse folder.

    ``flock`` is released by the kernel when the holder dies, so a killed run never leaves a
    lock that blocks the next one. The lock file records who holds it for the error message.
    """
    ensure_private_dir(directory)
    lock_path = directory / LOCK_FILE
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout_s
    acquired = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                acquired = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    try:
                        who = Path(lock_path).read_text() or "inconnu"
                    except OSError:
                        who = "inconnu"
                    raise WarehouseBusy(
                        f"L'entrepôt {directory} est déjà en cours d'écriture par {who}; "
                        f"abandon après {timeout_s:.0f} s d'attente."
                    ) from None
                time.sleep(0.5)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "holder": holder,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode(), 0)
        yield
    finally:
        if acquired:  # a waiter that gave up must not erase the holder's identity
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
        os.close(fd)
