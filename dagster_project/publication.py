"""Write-audit-publish of the analysts' database ``marts.duckdb``.

Analysts must never read the file the pipeline writes (DuckDB blocks readers while a writer holds
it), and must never see a half-built or unchecked figure. So the published file is never written
in place: the marts are copied into a new temp file beside it, CHECKPOINTed and closed (no .wal
left), fsynced, then atomically renamed over the old one. A reader holding the old file open keeps
its snapshot (the old inode); a crash at any point leaves the old file untouched, and the next
run sweeps the orphan temp files.

The published file is exactly the marts, nothing else: a ``marts.duckdb.wal`` beside the target
belongs to the *old* file (a client killed while it had the file open read-write leaves one), and
DuckDB would replay it onto the new file at its next opening (foreign tables, extra rows). So it
is removed just before the rename, under the writer lock the caller holds (no other publication
can be writing either file); a crash between the two leaves the old file without its stray WAL,
never the new file with it.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.paiements import PUBLISHED_COMMENTS, published_query

# Published name -> relation of the internal warehouse: the dbt marts (contracts enforced), and
# the payments of the finance exports that the marts do not count (refused lines: their
# convention has no loaded workbook, the line is unreadable…), by exercise, convention and
# reason: the same rule as the payments check and the report (dagster_project/paiements.py).
# Without it, an analyst comparing montant_paye_eur with the finance system saw a gap that
# nothing in marts.duckdb explained (cold review).
PUBLISHED_TABLES: Mapping[str, str] = {
    "synthese_thematiques": "marts.fct_synthese_thematiques",
    "chiffres_cles": "marts.fct_chiffres_cles",
    "actions": "marts.fct_actions",
    "evolution_thematiques": "marts.fct_evolution_thematiques",
    "paiements_non_comptes": f"({published_query()})",
}
# The comments of the tables built by a query (no dbt description to carry): name -> {column or
# None for the table: text}.
QUERY_COMMENTS: Mapping[str, Mapping[str | None, str]] = {
    "paiements_non_comptes": PUBLISHED_COMMENTS,
}

# Oldest storage format DuckDB 1.x clients (CLI, BI drivers) all read.
STORAGE_VERSION = "v1.0.0"
TEMP_PREFIX = ".marts-"
TEMP_SUFFIX = ".tmp.duckdb"
FORBIDDEN_COLUMN = re.compile(r"identifiant|beneficiaire|nir", re.IGNORECASE)
# Test-only hook (crash tests): seconds to pause mid-publication, temp file half written.
# Unset in production; it can only delay a publish, never change what is published.
PAUSE_ENV = "BILAN_TEST_PUBLISH_PAUSE_S"


class PublicationRefused(RuntimeError):
    """The marts would leak personal data or are missing: nothing is published."""


@dataclass(frozen=True)
class PublishResult:
    path: Path
    tables: dict[str, int]
    size_bytes: int
    stale_wal_removed: bool = False


def failed_control_rows(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> list[tuple]:
    """Control totals against the published report that are not ``ok`` (ko, or no verdict):
    ``(exercice, source, perimetre, indicateur, valeur_publiee, valeur_calculee, statut)``, in
    order. The one query the publication gate, the CLI summary and the failure alert share;
    raises when the control table cannot be read (each caller says what that means to it)."""
    sql = (
        "SELECT exercice, source, perimetre, indicateur, valeur_publiee, valeur_calculee, statut "
        "FROM marts.fct_controles_publies WHERE statut IS DISTINCT FROM 'ok' ORDER BY ALL"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return con.execute(sql).fetchall()


def control_line(row: tuple) -> str:
    """One row of :func:`failed_control_rows` as the gate, the CLI and the alert print it."""
    ex, src, per, ind, pub, calc, statut = row
    return f"contrôle {ex} {src}/{per}/{ind} : observé {calc} / attendu {pub} ({statut})"


def sweep_orphans(directory: Path) -> list[Path]:
    """Remove temp files left by a run killed mid-publish (call under the writer lock)."""
    removed = []
    for p in directory.glob(f"{TEMP_PREFIX}*"):
        if p.name.endswith(TEMP_SUFFIX) or p.name.endswith(TEMP_SUFFIX + ".wal"):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


def remove_stale_wal(target: Path) -> bool:
    """Remove the old file's WAL before the new file takes its name (call under the writer
    lock, right before the rename). Returns whether there was one."""
    wal = Path(str(target) + ".wal")
    try:
        wal.unlink()
    except FileNotFoundError:
        return False
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    tables: Mapping[str, str] = PUBLISHED_TABLES,
    views_sql: str | None = None,
) -> PublishResult:
    """Copy ``tables`` from the warehouse connection ``con`` into ``target``, atomically."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_orphans(target.parent)
    for rel in tables.values():
        cols = [r[0] for r in con.execute(f"DESCRIBE {rel}").fetchall()]
        leaking = [c for c in cols if FORBIDDEN_COLUMN.search(c)]
        if leaking:
            raise PublicationRefused(f"{rel} has personal-data columns {leaking}: not published")

    tmp = target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}{TEMP_SUFFIX}"
    try:
        return _write_then_swap(con, target, tmp, tables, views_sql)
    except BaseException:
        # a publication that fails here (a rename refused, a disk full) leaves no temp file
        # behind: it stayed until the next run swept it (on-call cold test)
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            leftover.unlink(missing_ok=True)
        raise


def _copy_comments(con: duckdb.DuckDBPyConnection, name: str, rel: str, copy: str) -> None:
    """The table's and its columns' comments (dbt's descriptions, persist_docs; for a table built
    by a query, :data:`QUERY_COMMENTS`) onto its copy: analysts' tools (DBeaver,
    duckdb_columns()) show what each published column means."""
    if rel.startswith("("):
        comments = list(QUERY_COMMENTS.get(name, {}).items())
    elif "." not in rel:
        return  # a table of the connection's own schema (tests): no description to carry
    else:
        schema, table = rel.split(".")
        where = "database_name = current_database() AND schema_name = ? AND table_name = ?"
        comments = con.execute(
            f"SELECT NULL, comment FROM duckdb_tables() WHERE {where} AND comment IS NOT NULL "
            f"UNION ALL SELECT column_name, comment FROM duckdb_columns() WHERE {where} "
            "AND comment IS NOT NULL", [schema, table, schema, table]).fetchall()
    for column, comment in comments:
        text = comment.replace("'", "''")
        if column is None:
            con.execute(f"COMMENT ON TABLE {copy} IS '{text}'")
        else:
            quoted = column.replace('"', '""')
            con.execute(f'COMMENT ON COLUMN {copy}."{quoted}" IS \'{text}\'')


def _write_then_swap(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    tmp: Path,
    tables: Mapping[str, str],
    views_sql: str | None,
) -> PublishResult:
    """The new file written beside the old one, checked whole, then renamed over it."""
    alias = "publication"
    counts: dict[str, int] = {}
    con.execute(f"ATTACH '{tmp}' AS {alias} (STORAGE_VERSION '{STORAGE_VERSION}')")
    try:
        for name, rel in tables.items():
            con.execute(f"CREATE TABLE {alias}.main.{name} AS SELECT * FROM {rel}")
            counts[name] = con.execute(f"SELECT count(*) FROM {alias}.main.{name}").fetchone()[0]
            _copy_comments(con, name, rel, f"{alias}.main.{name}")
        if os.environ.get(PAUSE_ENV):
            time.sleep(float(os.environ[PAUSE_ENV]))
        if views_sql:
            # Views keep unqualified names so they resolve inside marts.duckdb wherever it is
            # opened (its catalog is then named after the file, not "publication").
            home = con.execute("SELECT current_database()").fetchone()[0]
            con.execute(f"USE {alias}")
            try:
                con.execute(views_sql)
            finally:
                con.execute(f"USE {home}")
        con.execute(f"CHECKPOINT {alias}")
    finally:
        con.execute(f"DETACH {alias}")
    if Path(str(tmp) + ".wal").exists():
        # should not happen after CHECKPOINT + DETACH; refuse a torn publish (publish() removes
        # both files, as after any failure here)
        raise PublicationRefused("the new marts file kept a WAL after CHECKPOINT: not published")
    _fsync(tmp)
    os.chmod(tmp, 0o644)
    stale_wal = remove_stale_wal(target)
    os.replace(tmp, target)
    _fsync(target.parent)
    return PublishResult(
        path=target, tables=counts, size_bytes=target.stat().st_size, stale_wal_removed=stale_wal
    )
