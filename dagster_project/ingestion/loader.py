"""Incremental, conserving load of one exercise's raw files into the internal warehouse.

Why a module of its own: this is where "nothing is lost" is enforced. Every file found gets a
manifest row (loaded / rejected / ignored / replaced, or removed when it disappeared) whose
counts satisfy rows_read = rows_loaded + rows_rejected; every refusal gets a ``raw.rejets`` row.
Unchanged files (same sha256) are not parsed again; a changed or removed file replaces exactly
its own rows; everything for one exercise is written in a single transaction.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from dagster_project.ingestion.discovery import (
    KIND_AUTRE,
    KIND_FINANCES,
    KIND_OPERATEUR,
    RawFile,
    digest_lines,
    discover_files,
    hash_files,
)
from dagster_project.ingestion.warehouse import DATA_TABLES, init_raw_schema
from dagster_project.parsing.normalize import hash_identifiant

MANIFEST_COLUMNS = (
    "exercice source_file file_name kind sha256 size_bytes mtime_ns mtime status num_convention "
    "replaced_by detail checked_against rows_read rows_loaded rows_rejected run_id loaded_at"
).split()
REJET_COLUMNS = (
    "exercice source_file file_name sheet row_number column_name value reason run_id rejected_at"
).split()

# Below this many workbooks a process pool costs more than it saves (starting the forkserver
# and its workers costs ~0.5 s; 200 workbooks parse in ~1 s on one core).
POOL_MIN_FILES = 200


@dataclass
class IngestSummary:
    """What one exercise's load did, for logs, Dagster metadata and the closing summary."""

    exercice: int
    files_loaded: int = 0
    files_rejected: int = 0
    files_ignored: int = 0
    files_replaced: int = 0
    files_removed: int = 0
    files_parsed: int = 0
    files_unchanged: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    first_reasons: list[str] = field(default_factory=list)
    input_sha256: str = ""

    def as_metadata(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "first_reasons"}


# --------------------------------------------------------------------------- parsing (workers)


def _parse_one(path: str, exercice: int):
    from dagster_project.parsing import parse_workbook

    return parse_workbook(Path(path), exercice=exercice)


def _parse_chunk(paths: Sequence[str], exercice: int) -> list:
    return [_parse_one(p, exercice) for p in paths]


# Workbooks per batch sent to a worker: small enough that a worker never holds more than a few
# thousand row dicts (memory is flat whatever the scale), large enough to amortise the round trip.
BATCH_FILES = 48


def parse_workbooks(
    paths: Sequence[Path], exercice: int, workers: int, *, stage: RowStage | None = None
) -> list:
    """Parse workbooks, in ``workers`` processes when there are enough of them.

    Workers are started with ``forkserver`` (never ``fork`` from a threaded Dagster process),
    preloaded with the parsing package so each starts warm. With a ``stage``, every batch's
    participant and CER rows come back as Arrow tables (built in the worker) and are kept in the
    stage; the returned per-file results (:class:`ParsedWorkbook`) then carry no row lists. Without
    one, full :class:`WorkbookResult` objects are returned (small callers, tests).
    """
    str_paths = [str(p) for p in paths]
    if stage is None:
        if workers <= 1 or len(str_paths) < POOL_MIN_FILES:
            return _parse_chunk(str_paths, exercice)
        n_chunks = workers * 4
        size = max(1, -(-len(str_paths) // n_chunks))
        chunks = [str_paths[i : i + size] for i in range(0, len(str_paths), size)]
        with _pool(workers) as pool:
            parts = pool.map(_parse_chunk, chunks, [exercice] * len(chunks))
            return [r for part in parts for r in part]

    from dagster_project.parsing.batch import parse_batch

    size = max(1, min(BATCH_FILES, -(-len(str_paths) // (max(workers, 1) * 4))))
    batches = [str_paths[i : i + size] for i in range(0, len(str_paths), size)]
    out: list = []
    if workers <= 1 or len(str_paths) < POOL_MIN_FILES:
        parts = (parse_batch(b, exercice) for b in batches)
        for batch, (results, tables) in zip(batches, parts, strict=True):
            stage.add(batch, tables)
            out.extend(results)
        return out
    with _pool(workers) as pool:
        # map() yields in submission order as batches complete: rows stream into the stage
        for batch, (results, tables) in zip(
            batches, pool.map(parse_batch, batches, [exercice] * len(batches)), strict=True
        ):
            stage.add(batch, tables)
            out.extend(results)
    return out


def _pool(workers: int) -> ProcessPoolExecutor:
    ctx = get_context("forkserver")
    # Workers fork from a server that already imported the parsers (and pyarrow): no per-worker
    # import cost. Only effective before the server starts (once per process); harmless after.
    ctx.set_forkserver_preload(["dagster_project.parsing.batch"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


class RowStage:
    """Participant and CER rows of parsed workbooks, columnar, until the load transaction.

    Rows are kept as Arrow tables (a few tens of bytes per row instead of ~1 KB as dicts) and
    inserted with one ``INSERT … SELECT`` per raw table, joined to the lineage of the files that
    are actually loaded (:meth:`keep`): rows of refused or replaced workbooks are never inserted.
    """

    def __init__(self) -> None:
        from dagster_project.parsing.batch import ROW_SCHEMAS

        self._paths: list[str] = []
        self._tables: dict[str, list[pa.Table]] = {name: [] for name in ROW_SCHEMAS}
        self._kept: dict[str, tuple[str, str]] = {}

    def add(self, paths: Sequence[str], tables: dict[str, pa.Table]) -> None:
        import pyarrow.compute as pc

        base = len(self._paths)
        self._paths.extend(str(p) for p in paths)
        for name, tbl in tables.items():
            if not tbl.num_rows:
                continue
            if base:
                i = tbl.schema.get_field_index("_file")
                shifted = pc.add(tbl.column(i), pa.scalar(base, pa.int32()))
                tbl = tbl.set_column(i, "_file", shifted)
            self._tables[name].append(tbl)

    def keep(self, path: Path | str, source_file: str, sha256: str) -> None:
        """Load this parsed workbook's rows, with this lineage."""
        self._kept[str(path)] = (source_file, sha256)

    def rows(self, name: str) -> int:
        return sum(t.num_rows for t in self._tables[name])

    def insert(self, con: duckdb.DuckDBPyConnection, *, loaded_at: datetime, run_id: str) -> None:
        ids = [i for i, p in enumerate(self._paths) if p in self._kept]
        if not ids:
            return
        kept_files = pa.table(  # noqa: F841  (referenced by name in SQL)
            {
                "_file": pa.array(ids, pa.int32()),
                "source_file": [self._kept[self._paths[i]][0] for i in ids],
                "file_sha256": [self._kept[self._paths[i]][1] for i in ids],
            }
        )
        for name, parts in self._tables.items():
            if not parts:
                continue
            staged = pa.concat_tables(parts)  # noqa: F841  (zero-copy: the chunks are kept)
            con.execute(
                f"INSERT INTO raw.{name} BY NAME "
                "SELECT r.* EXCLUDE (_file), f.source_file, f.file_sha256, "
                "CAST($loaded_at AS TIMESTAMP) AS loaded_at, $run_id AS run_id "
                "FROM staged AS r JOIN kept_files AS f ON r._file = f._file",
                {"loaded_at": loaded_at, "run_id": run_id},
            )
            parts.clear()


def default_workers() -> int:
    env = os.environ.get("BILAN_INGEST_WORKERS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 8))


# --------------------------------------------------------------------------- helpers


def _ts(mtime_ns: int) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1e9)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    tbl = pa.Table.from_pylist(rows)  # noqa: F841  (referenced by name in SQL)
    con.execute(f"INSERT INTO raw.{table} BY NAME SELECT * FROM tbl")


def _previous_manifest(con: duckdb.DuckDBPyConnection, exercice: int) -> dict[str, dict]:
    cur = con.execute("SELECT * FROM raw.manifest WHERE exercice = ?", [exercice])
    cols = [d[0] for d in cur.description]
    return {r[cols.index("source_file")]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


# --------------------------------------------------------------------------- main entry point


def ingest_exercice(
    con: duckdb.DuckDBPyConnection,
    raw_dir: Path,
    exercice: int,
    *,
    run_id: str,
    workers: int | None = None,
    now: datetime | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> IngestSummary:
    """Bring the raw tables of ``exercice`` in line with ``<raw_dir>/<exercice>/``."""
    from dagster_project.parsing import parse_mandats

    init_raw_schema(con)
    now = now or datetime.now()
    workers = workers or default_workers()
    summary = IngestSummary(exercice=exercice)

    files = discover_files(raw_dir, exercice)
    prev = _previous_manifest(con, exercice)
    hashes = hash_files(
        files, {k: (v["size_bytes"], v["mtime_ns"], v["sha256"]) for k, v in prev.items()}
    )
    summary.input_sha256 = digest_lines(f"{k}:{v}" for k, v in hashes.items())

    def unchanged(f: RawFile) -> bool:
        p = prev.get(f.source_file)
        return bool(p) and p["sha256"] == hashes[f.source_file] and p["kind"] == f.kind

    workbooks = [f for f in files if f.kind == KIND_OPERATEUR]
    exports = [f for f in files if f.kind == KIND_FINANCES]
    others = [f for f in files if f.kind == KIND_AUTRE]

    # 1. Parse new and changed workbooks.
    results: dict[str, Any] = {}
    to_parse = [
        f for f in workbooks if not unchanged(f) or prev[f.source_file]["status"] == "removed"
    ]
    # participant/CER rows wait in ``stage`` (columnar) until the load transaction
    stage = RowStage()
    for f, res in zip(
        to_parse,
        parse_workbooks([f.path for f in to_parse], exercice, workers, stage=stage),
        strict=True,
    ):
        results[f.source_file] = res

    # 2. Which workbook counts for each convention: the most recently modified one.
    def convention_of(f: RawFile) -> str | None:
        if f.source_file in results:
            r = results[f.source_file]
            return None if r.file_rejected else r.num_convention
        p = prev[f.source_file]
        return None if p["status"] == "rejected" else p["num_convention"]

    by_convention: dict[str, list[RawFile]] = {}
    for f in workbooks:
        conv = convention_of(f)
        if conv:
            by_convention.setdefault(conv, []).append(f)
    winner_of: dict[str, RawFile] = {
        conv: max(cands, key=lambda f: (f.mtime_ns, f.source_file))
        for conv, cands in by_convention.items()
    }
    winners = {f.source_file for f in winner_of.values()}

    # A winner whose rows are not in the tables (it was the replaced one until now): parse it.
    late = [
        f
        for f in workbooks
        if f.source_file in winners
        and f.source_file not in results
        and prev[f.source_file]["status"] != "loaded"
    ]
    for f, res in zip(
        late, parse_workbooks([f.path for f in late], exercice, workers, stage=stage), strict=True
    ):
        results[f.source_file] = res
    summary.files_parsed = len(results)
    summary.files_unchanged = len(workbooks) - len(results)

    # 3. Decide each file's fate and what to delete / insert.
    current = {f.source_file for f in files}
    to_delete = {sf for sf in prev if sf not in current}  # removed from the folder
    manifest_rows: list[dict] = []
    rejets: list[dict] = []
    inserts: dict[str, list[dict]] = {t: [] for t in DATA_TABLES}

    def manifest_row(f: RawFile, status: str, **kw) -> dict:
        row = {
            "exercice": exercice,
            "source_file": f.source_file,
            "file_name": f.file_name,
            "kind": f.kind,
            "sha256": hashes[f.source_file],
            "size_bytes": f.size_bytes,
            "mtime_ns": f.mtime_ns,
            "mtime": _ts(f.mtime_ns),
            "status": status,
            "num_convention": None,
            "replaced_by": None,
            "detail": None,
            "checked_against": None,
            "rows_read": 0,
            "rows_loaded": 0,
            "rows_rejected": 0,
            "run_id": run_id,
            "loaded_at": now,
        }
        row.update(kw)
        return row

    def replaced_row(f: RawFile, conv: str, rows_read: int) -> dict:
        """A workbook superseded by a newer one for the same convention: its rows count as
        refused (they are not loaded), and the manifest says which file replaced it."""
        winner = winner_of[conv]
        return manifest_row(
            f, "replaced", num_convention=conv, replaced_by=winner.source_file,
            detail=f"remplacé par {winner.file_name} (plus récent)",
            rows_read=rows_read, rows_rejected=rows_read,
        )

    def lineage(f: RawFile, rows: list[dict]) -> list[dict]:
        extra = {
            "exercice": exercice,
            "source_file": f.source_file,
            "file_sha256": hashes[f.source_file],
            "loaded_at": now,
            "run_id": run_id,
        }
        for r in rows:
            r.update(extra)
        return rows

    def add_rejets(f: RawFile, items, identifiers: frozenset[str] = frozenset()) -> None:
        for rj in items:
            value = rj.value
            if value is not None and value.strip() in identifiers:
                # a participant identifier typed in another column: never on record in clear
                value = hash_identifiant(value.strip())
            rejets.append(
                {
                    "exercice": exercice,
                    "source_file": f.source_file,
                    "file_name": f.file_name,
                    "sheet": rj.sheet,
                    "row_number": rj.row_number,
                    "column_name": rj.column_name,
                    "value": value,
                    "reason": rj.reason,
                    "run_id": run_id,
                    "rejected_at": now,
                }
            )

    for f in workbooks:
        sf = f.source_file
        res = results.get(sf)
        if res is None:  # unchanged, rows already in place
            p = prev[sf]
            conv = p["num_convention"]
            still_replaced = (
                p["status"] == "replaced"
                and conv in winner_of
                and p["replaced_by"] == winner_of[conv].source_file
            )
            if sf in winners or p["status"] == "rejected" or still_replaced:
                manifest_rows.append({**p, "mtime": _ts(f.mtime_ns), "mtime_ns": f.mtime_ns})
                continue
            # unchanged but now replaced by a newer workbook of the same convention
            to_delete.add(sf)
            manifest_rows.append(replaced_row(f, conv, p["rows_read"]))
            continue
        to_delete.add(sf)
        if res.file_rejected:
            add_rejets(f, res.rejets)
            manifest_rows.append(
                manifest_row(
                    f,
                    "rejected",
                    num_convention=res.num_convention,
                    detail=res.rejets[0].reason if res.rejets else "fichier refusé",
                    rows_read=res.rows_read,
                    rows_rejected=res.rows_read,
                )
            )
        elif sf not in winners:
            manifest_rows.append(replaced_row(f, res.num_convention, res.rows_read))
        else:
            add_rejets(f, res.rejets, res.identifiants)
            inserts["raw_actions"].extend(lineage(f, [res.action]))
            stage.keep(f.path, sf, hashes[sf])  # its participant/CER rows, inserted in step 5
            manifest_rows.append(
                manifest_row(
                    f,
                    "loaded",
                    num_convention=res.num_convention,
                    rows_read=res.rows_read,
                    rows_loaded=res.rows_loaded,
                    rows_rejected=res.rows_rejected,
                )
            )

    # 4. Finance exports: re-parsed when changed or when the set of loaded conventions changed
    #    (the "unknown convention" refusal depends on it).
    conventions = sorted(winner_of)
    # conventions whose only workbook(s) were refused: their mandates say so
    refused_workbook: dict[str, str] = {}
    for r in sorted(manifest_rows, key=lambda m: m["source_file"]):
        if r["kind"] == KIND_OPERATEUR and r["status"] == "rejected" and r["num_convention"]:
            refused_workbook.setdefault(r["num_convention"], r["file_name"])
    conv_digest = digest_lines(
        [*conventions, *(f"refusé:{c}:{n}" for c, n in refused_workbook.items())]
    )
    known_conventions = set(conventions)
    seen_mandats: set[str] = set()
    for f in sorted(exports, key=lambda x: x.source_file):
        sf = f.source_file
        p = prev.get(sf)
        if unchanged(f) and p["checked_against"] == conv_digest and p["status"] != "removed":
            manifest_rows.append({**p, "mtime": _ts(f.mtime_ns), "mtime_ns": f.mtime_ns})
            seen_mandats.update(
                r[0]
                for r in con.execute(
                    "SELECT num_mandat FROM raw.raw_mandats WHERE source_file = ?", [sf]
                ).fetchall()
            )
            continue
        to_delete.add(sf)
        res = parse_mandats(f.path, exercice=exercice)
        summary.files_parsed += 1
        add_rejets(f, res.rejets)
        kept: list[dict] = []
        extra_rejected = 0
        for row in res.rows:
            conv = row["num_convention"]
            if conv not in known_conventions and conv in refused_workbook:
                reason = (
                    f"convention sans classeur chargé : le classeur « {refused_workbook[conv]} » "
                    "de cette convention a été refusé (voir son rejet)"
                )
            elif conv not in known_conventions:
                reason = "convention inconnue : aucun classeur chargé pour cette convention"
            elif row["num_mandat"] in seen_mandats:
                reason = "N° mandat en double (déjà présent dans un autre export)"
            else:
                seen_mandats.add(row["num_mandat"])
                kept.append(row)
                continue
            extra_rejected += 1
            col = "N° mandat" if reason.startswith("N° mandat") else "N° convention"
            val = row["num_convention"] if col == "N° convention" else row["num_mandat"]
            rejets.append(
                {
                    "exercice": exercice,
                    "source_file": sf,
                    "file_name": f.file_name,
                    "sheet": None,
                    "row_number": row["source_row"],
                    "column_name": col,
                    "value": val,
                    "reason": reason,
                    "run_id": run_id,
                    "rejected_at": now,
                }
            )
        inserts["raw_mandats"].extend(lineage(f, kept))
        # refused whole (unreadable, missing column, empty), or every line refused
        refused = res.file_rejected or (res.rows_read > 0 and not kept)
        file_rejets = [r for r in rejets if r["source_file"] == sf]
        detail = None
        if refused:
            detail = file_rejets[0]["reason"] if file_rejets else "fichier refusé"
            if not res.file_rejected:
                detail = f"toutes les lignes refusées, ex. {detail}"
        manifest_rows.append(
            manifest_row(
                f,
                "rejected" if refused else "loaded",
                checked_against=conv_digest,
                rows_read=res.rows_read,
                rows_loaded=len(kept),
                rows_rejected=res.rows_rejected + extra_rejected,
                detail=detail,
            )
        )

    for f in others:
        p = prev.get(f.source_file)
        if unchanged(f) and p["status"] == "ignored":
            manifest_rows.append({**p, "mtime": _ts(f.mtime_ns), "mtime_ns": f.mtime_ns})
            continue
        manifest_rows.append(manifest_row(f, "ignored", detail=f.ignore_reason))

    removed_rows = [
        {
            **prev[sf],
            "status": "removed",
            "run_id": run_id,
            "loaded_at": now,
            "rows_loaded": 0,
            "rows_rejected": 0,
            "rows_read": 0,
            "detail": "fichier retiré du dossier : ses lignes ont été supprimées",
        }
        for sf in sorted(prev)
        if sf not in current
    ]

    # 5. One transaction per exercise: either the whole new state or the old one.
    con.execute("BEGIN TRANSACTION")
    try:
        if to_delete:
            doomed = pa.table({"source_file": sorted(to_delete)})  # noqa: F841
            for t in DATA_TABLES:
                con.execute(
                    f"DELETE FROM raw.{t} WHERE source_file IN (SELECT source_file FROM doomed)"
                )
            con.execute(
                "DELETE FROM raw.rejets WHERE source_file IN (SELECT source_file FROM doomed)"
            )
        for t, rows in inserts.items():
            _insert(con, t, rows)
        stage.insert(con, loaded_at=now, run_id=run_id)
        _insert(con, "rejets", rejets)
        con.execute("DELETE FROM raw.manifest WHERE exercice = ?", [exercice])
        _insert(con, "manifest", manifest_rows)
        changed = [r for r in manifest_rows if r["run_id"] == run_id] + removed_rows
        _insert(con, "manifest_history", changed)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise

    for r in manifest_rows:
        summary.rows_read += r["rows_read"] or 0
        summary.rows_loaded += r["rows_loaded"] or 0
        summary.rows_rejected += r["rows_rejected"] or 0
        key = {
            "loaded": "files_loaded",
            "rejected": "files_rejected",
            "ignored": "files_ignored",
            "replaced": "files_replaced",
        }[r["status"]]
        setattr(summary, key, getattr(summary, key) + 1)
    summary.files_removed = len(removed_rows)
    cur = con.execute(
        "SELECT file_name, coalesce(sheet, '-'), coalesce(CAST(row_number AS VARCHAR), '-'), reason"
        " FROM raw.rejets WHERE exercice = ? ORDER BY file_name, row_number NULLS FIRST LIMIT 5",
        [exercice],
    )
    summary.first_reasons = [f"{a} [{b} ligne {c}] : {d}" for a, b, c, d in cur.fetchall()]
    log(
        f"exercice {exercice}: {summary.files_parsed} fichier(s) lu(s), "
        f"{summary.files_unchanged} inchangé(s), {summary.rows_loaded} lignes chargées, "
        f"{summary.rows_rejected} refusées"
    )
    return summary
