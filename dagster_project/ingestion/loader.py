"""Incremental, conserving load of one exercise's raw files into the internal warehouse.

Why a module of its own: this is where "nothing is lost" is enforced. Every file found gets a
manifest row (loaded / rejected / ignored / replaced, or removed when it disappeared) whose
counts satisfy rows_read = rows_loaded + rows_rejected; every refusal gets a ``raw.rejets`` row.
Unchanged workbooks (same sha256, parsed under the same rules: ``parsing/rules.py``) are not
parsed again; a changed or removed file replaces exactly its own rows; the finance exports are
re-read together when one of them, or the set of loaded conventions, changed (a mandate's
verdict depends on the other exports); everything for one exercise is written in a single
transaction.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from dagster_project import warm_imports
from dagster_project.ingestion.discovery import (
    KIND_AUTRE,
    KIND_FINANCES,
    KIND_OPERATEUR,
    RawFile,
    convention_candidate,
    digest_lines,
    discover_files,
    exports_precedence,
    hash_files,
    inputs_digest,
    newest_per_convention,
)
from dagster_project.ingestion.warehouse import DATA_TABLES, init_raw_schema
from dagster_project.parsing.worker import init_worker, parse_batch

MANIFEST_COLUMNS = (
    "exercice source_file file_name kind sha256 size_bytes mtime_ns mtime status num_convention "
    "replaced_by detail checked_against rows_read rows_loaded rows_rejected run_id loaded_at"
).split()
REJET_COLUMNS = (
    "exercice source_file file_name sheet row_number column_name value reason run_id rejected_at"
).split()


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
    rows_rejected: int = 0  # not loaded: refused, or in a replaced workbook (rows_replaced)
    rows_replaced: int = 0  # of rows_rejected: in workbooks replaced by a newer one, not refused
    first_reasons: list[str] = field(default_factory=list)
    # every refused file of the exercise, "path : reason" (the first reasons may name only some)
    refused_files: list[str] = field(default_factory=list)
    input_sha256: str = ""
    # processes that parsed workbooks: 0 none parsed, 1 the loader's own, else the pool's workers
    parse_workers: int = 0
    # seconds spent in each phase of the load, in order (see :class:`PhaseClock`)
    timings_s: dict[str, float] = field(default_factory=dict)
    # the same phases' ends on ``time.perf_counter``'s clock ("begin" first): a benchmark lines
    # them up with its own measures (one clock for every process of a machine); not metadata
    clock: dict[str, float] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()
                if k not in ("first_reasons", "refused_files", "clock")}


class PhaseClock:
    """Where one load's time goes, phase by phase, for its Dagster metadata and the benchmark.

    Phases, in order, each ending at its :meth:`mark`: ``list`` (schema, files listed, previous
    manifest), ``hash`` (the parse workers' fork server launched, then the sha256 of every file
    whose size or mtime changed), ``first_batch`` (until the first parsed batch is inserted: the
    parse pool's start, the finance export read meanwhile, deletions), ``parse`` (from there to
    the last batch inserted and the pool shut down: the workers parse, the loader inserts),
    ``write`` (each file's fate, the finance export's verdicts, the small tables), ``commit``.
    Phases that did not happen (nothing to parse) are absent. A second parse in the same load (a
    workbook that becomes its convention's winner) extends ``parse``.
    """

    PHASES = ("list", "hash", "first_batch", "parse", "write", "commit")

    def __init__(self) -> None:
        self.ends: dict[str, float] = {"begin": time.perf_counter()}

    def mark(self, phase: str, *, once: bool = False) -> None:
        """``phase`` ends now (``once``: unless it has already ended)."""
        if not (once and phase in self.ends):
            self.ends[phase] = time.perf_counter()

    def durations(self) -> dict[str, float]:
        """Seconds from each phase's predecessor's end (or the start) to its own end."""
        t = list(self.ends.values())
        return {k: round(b - a, 4) for k, a, b in zip(list(self.ends)[1:], t, t[1:], strict=False)}


# --------------------------------------------------------------------------- parsing (workers)

# Below this many workbooks a process pool costs more than it saves (starting the forkserver
# and its workers costs ~0.5 s; 200 workbooks parse in ~0.5 s on one core).
POOL_MIN_FILES = 200
# Workbooks per batch sent to a worker: small enough that a worker never holds more than a few
# thousand rows (memory is flat whatever the scale) and the two workers end together, large
# enough to amortise the round trip.
BATCH_FILES = 48


class ParseJob:
    """Workbooks being parsed by :func:`parse_batch`, batch by batch, in submission order.

    Entering starts the work: with ``workers`` > 1 and enough files, the first batches are
    handed to a process pool (``forkserver``, never ``fork`` from a threaded Dagster process;
    the server preloads the parsers, so workers start warm) and the caller is free to do its own
    work (finance export, deletions) while the workers parse. The pool is started by a
    background thread, because starting a worker blocks until the fork server has finished its
    imports (~0.4 s): the caller's own work goes on meanwhile instead of after. Iterating (only
    inside ``with``) yields ``(paths, per-file results, {raw table: Arrow rows})`` per batch in
    order, as soon as that batch is done, and submits the next one: at most :data:`IN_FLIGHT`
    batches per worker are queued or done-but-not-consumed, so memory does not grow with the
    drop even if the consumer is slower than the workers. Leaving cancels what has not started
    (an error stops the workers promptly) and shuts the pool down.
    """

    # batches per worker queued or done-but-not-consumed: enough to keep the workers busy while
    # the loader reads the finance export (~2 s at SCALE=100), a few MB of rows at most
    IN_FLIGHT = 8

    def __init__(self, paths: Sequence[Path | str], exercice: int, workers: int) -> None:
        str_paths = [str(p) for p in paths]
        size = max(1, min(BATCH_FILES, -(-len(str_paths) // (max(workers, 1) * 4))))
        self.batches = [str_paths[i : i + size] for i in range(0, len(str_paths), size)]
        self.exercice = exercice
        self.use_pool = workers > 1 and len(str_paths) >= POOL_MIN_FILES
        self.workers = workers
        self._entered = False
        self._pool: ProcessPoolExecutor | None = None
        self._starter: threading.Thread | None = None
        self._pending: deque = deque()  # (batch, future), in batch order
        self._next = 0  # index of the next batch to submit

    def _submit_up_to(self, n: int) -> None:
        assert self._pool is not None
        while len(self._pending) < n and self._next < len(self.batches):
            batch = self.batches[self._next]
            self._pending.append((batch, self._pool.submit(parse_batch, batch, self.exercice)))
            self._next += 1

    def __enter__(self) -> ParseJob:
        self._entered = True
        if self.use_pool and self.batches:
            # proxies the consumer can wait on before the pool exists; the starter relays the
            # pool's futures into them
            first = [(b, Future()) for b in self.batches[: self.workers * self.IN_FLIGHT]]
            self._pending.extend(first)
            self._next = len(first)
            self._starter = threading.Thread(
                target=self._start_pool, args=(first,), name="parse-pool-start", daemon=True
            )
            self._starter.start()
        return self

    def _start_pool(self, first: list[tuple[list[str], Future]]) -> None:
        """Start the pool and submit the first batches, each pool future feeding its proxy."""
        try:
            pool = _pool(self.workers)
            self._pool = pool
            for batch, proxy in first:
                if proxy.cancelled():  # the job was left before the pool was up
                    continue
                pool.submit(parse_batch, batch, self.exercice).add_done_callback(
                    functools.partial(_relay, proxy)
                )
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            for _, proxy in first:
                with contextlib.suppress(InvalidStateError):  # cancelled by __exit__ meanwhile
                    proxy.set_exception(exc)

    def __exit__(self, *exc) -> None:
        try:
            for _, fut in self._pending:
                fut.cancel()
            self._pending.clear()
            if self._starter is not None:
                self._starter.join()
                self._starter = None
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def __iter__(self):
        if not self._entered:
            raise RuntimeError("iterate a ParseJob inside `with parse_workbooks(...) as job:`")
        if self.use_pool and self.batches:
            while self._pending:
                batch, fut = self._pending.popleft()
                results, tables = fut.result()
                del fut  # the future holds its result: drop it once consumed
                if self._starter is not None:  # a batch came back: the pool is up
                    self._starter.join()
                    self._starter = None
                self._submit_up_to(self.workers * self.IN_FLIGHT)
                yield batch, results, tables
        else:
            for batch in self.batches:
                results, tables = parse_batch(batch, self.exercice)
                yield batch, results, tables


def _relay(proxy: Future, fut: Future) -> None:
    """Hand a pool future's outcome to the proxy the consumer holds (unless it was cancelled)."""
    with contextlib.suppress(InvalidStateError):
        if fut.cancelled():
            proxy.cancel()
        elif fut.exception() is not None:
            proxy.set_exception(fut.exception())
        else:
            proxy.set_result(fut.result())


def parse_workbooks(paths: Sequence[Path | str], exercice: int, workers: int) -> ParseJob:
    """The parse of ``paths`` (a :class:`ParseJob`: use it as a context manager, iterate it)."""
    return ParseJob(paths, exercice, workers)


_PRELOAD = "dagster_project.parsing.preload"  # the parsers, imported without numpy


def _forkserver():
    ctx = get_context("forkserver")
    # Workers fork from a server that already imported their module (the parsers, pyarrow, and
    # not numpy: see parsing/preload.py): no per-worker import cost. Only effective before the
    # server starts (once per process).
    ctx.set_forkserver_preload([_PRELOAD])
    return ctx


def _pool(workers: int) -> ProcessPoolExecutor:
    # Tasks must be importable by module name: its workers do not load the parent's ``__main__``
    # (parsing/preload.py), so a function defined there kills the worker that unpickles it.
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=_forkserver(), initializer=init_worker,
        initargs=(os.getpid(),),  # workers leave when this process dies (parsing/worker.py)
    )


def prestart_workers() -> None:
    """Launch the fork server now, without waiting for it.

    It takes ~0.4 s to start and import the parsers; launched as soon as the raw files are listed,
    that time overlaps their hashing instead of delaying the first parse.
    """
    from multiprocessing import forkserver

    _forkserver()
    forkserver.ensure_running()


class RowSink:
    """Inserts the parsed batches' participant and CER rows into the raw tables, with lineage.

    Used inside the load transaction while the workers go on parsing the next batches, so the
    database work overlaps the parsing. Batches are inserted in blocks of exactly one DuckDB row
    group (:data:`INSERT_ROWS`), one Arrow chunk each: DuckDB writes such an insert straight to
    the database file as one full row group, whereas small inserts wait in the transaction and
    are all written at ``COMMIT``, and odd-sized row groups are merged (re-written) by the
    checkpoint at commit. Only the last partial block of each table is left for the commit.
    Memory stays bounded by one block.
    Near the end of a parse run by workers, the caller says how many batches are still to come
    (``batches_left``): once a table's pending rows plus what those batches should bring (the
    average of at least as many batches, with a margin) cannot fill another block, its pending
    rows and every later batch are appended as they come. They are the table's last, partial
    row group, which DuckDB writes only at ``COMMIT`` anyway; appended while the workers still
    parse, they are no longer inserted after the last batch, when nothing else runs (~0.2 s at
    SCALE=10). Appends are inserts of less than half a row group: DuckDB adds them to the rows
    already waiting, whereas it may write a larger insert as a row group of its own (two partial
    row groups, merged again at the checkpoint). If the estimate falls short, a full row group
    waits for the commit too: slower, never wrong. After :meth:`flush`, a table's rows are
    appended the same way (a second parse in the same load must not start a new row group).
    Rows of a workbook that is not loaded in the end (replaced by a newer one for the same
    convention) are deleted again before the commit (refused workbooks have no rows).
    """

    INSERT_ROWS = 122_880  # DuckDB's row group size
    # margin on the rows the remaining batches should bring (batches of 48 workbooks vary)
    TAIL_MARGIN = 1.25

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        lineage: dict[str, tuple[str, str]],
        *,
        loaded_at: datetime,
        run_id: str,
    ) -> None:
        self.con = con
        self.lineage = lineage  # path → (source_file, sha256)
        self.params = {"loaded_at": loaded_at, "run_id": run_id}
        self.pending: dict[str, list[pa.Table]] = {}
        self.inserted: dict[str, int] = {}
        self.direct: set[str] = set()  # tables whose rows are appended as they come (above)
        self.rows_seen: dict[str, int] = {}
        self.batches_seen = 0

    def add(
        self, paths: Sequence[str], tables: dict[str, pa.Table], batches_left: int | None = None
    ) -> None:
        """Insert one batch's rows, or keep them for the next block. ``batches_left``: how many
        batches are still to come, when workers parse beside (None otherwise)."""
        source_file = pa.array([self.lineage[p][0] for p in paths], pa.string())
        sha256 = pa.array([self.lineage[p][1] for p in paths], pa.string())
        for name, tbl in tables.items():
            self.rows_seen[name] = self.rows_seen.get(name, 0) + tbl.num_rows
            if not tbl.num_rows:
                continue
            files = tbl.column("_file")
            tbl = tbl.drop_columns(["_file"])
            tbl = tbl.append_column("source_file", source_file.take(files))
            tbl = tbl.append_column("file_sha256", sha256.take(files))
            if name in self.direct:
                self._append(name, tbl)
            else:
                self._add_to_blocks(name, tbl)
        self.batches_seen += 1
        # the average is trusted once it covers at least as many batches as are left
        if batches_left is not None and batches_left <= self.batches_seen:
            for name in list(self.pending):
                pending = sum(t.num_rows for t in self.pending[name])
                coming = batches_left * self.rows_seen[name] / self.batches_seen
                if pending + coming * self.TAIL_MARGIN < self.INSERT_ROWS:
                    self.direct.add(name)
                    self._append(name, pa.concat_tables(self.pending.pop(name)))

    def flush(self) -> None:
        """Insert what waits; any later rows of these tables are appended (see above)."""
        for name, parts in list(self.pending.items()):
            self._append(name, pa.concat_tables(parts))
            self.direct.add(name)
        self.pending.clear()

    def _add_to_blocks(self, name: str, tbl: pa.Table) -> None:
        parts = self.pending.setdefault(name, [])
        parts.append(tbl)
        while sum(t.num_rows for t in parts) >= self.INSERT_ROWS:
            # Exactly one row group, in one Arrow chunk; the rest waits for the next batch.
            # A longer block leaves a small row group behind, and several chunks are
            # inserted by several threads as several row groups: either way the checkpoint
            # at commit merges them again, i.e. re-writes the table (measured at SCALE=10:
            # commit 0.7 s -> 0.3 s).
            staged = pa.concat_tables(parts).combine_chunks()
            self._insert(name, staged.slice(0, self.INSERT_ROWS))
            parts[:] = [staged.slice(self.INSERT_ROWS)]

    def _append(self, name: str, tbl: pa.Table) -> None:
        """Insert ``tbl`` in pieces of less than half a row group, each one Arrow chunk: added to
        the rows waiting in the transaction, never written as a row group of their own."""
        tbl, step = tbl.combine_chunks(), self.INSERT_ROWS // 2
        for start in range(0, tbl.num_rows, step):
            self._insert(name, tbl.slice(start, step))

    def _insert(self, name: str, staged: pa.Table) -> None:
        if not staged.num_rows:
            return
        self.con.execute(
            f"INSERT INTO raw.{name} BY NAME SELECT *, "
            "CAST($loaded_at AS TIMESTAMP) AS loaded_at, $run_id AS run_id FROM staged",
            self.params,
        )
        self.inserted[name] = self.inserted.get(name, 0) + staged.num_rows


def rows_phrase(s: IngestSummary) -> str:
    """The rows not loaded, in words: refused ones apart from those of replaced workbooks (not
    refused: a newer workbook for the same convention counts instead)."""
    phrase = f"{s.rows_rejected - s.rows_replaced} refusées"
    if s.rows_replaced:
        phrase += f", {s.rows_replaced} écartées (classeur remplacé par un plus récent)"
    return phrase


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


def _delete_rows(
    con: duckdb.DuckDBPyConnection, source_files: set[str], tables: Sequence[str]
) -> None:
    if not source_files:
        return
    doomed = pa.table({"source_file": sorted(source_files)})  # noqa: F841  (used in SQL)
    for t in tables:
        con.execute(f"DELETE FROM raw.{t} WHERE source_file IN (SELECT source_file FROM doomed)")


def first_refusals(con: duckdb.DuckDBPyConnection, limit: int, exercice: int | None = None
                   ) -> list[tuple[str, str, str, str, str]]:
    """The first refusals on record (of ``exercice``, or all), in file and row order: (path under
    the raw dir, sheet, "ligne N" or "fichier entier" for a whole file refused (its reason names
    the cell's row, when there is one), column, reason)."""
    where = "" if exercice is None else f"WHERE exercice = {int(exercice)} "
    return con.execute(
        "SELECT source_file, coalesce(sheet, '-'), "
        "coalesce('ligne ' || CAST(row_number AS VARCHAR), 'fichier entier'), "
        f"coalesce(column_name, '-'), reason FROM raw.rejets {where}"
        f"ORDER BY exercice, source_file, row_number NULLS FIRST LIMIT {int(limit)}"
    ).fetchall()


def _previous_manifest(con: duckdb.DuckDBPyConnection, exercice: int) -> dict[str, dict]:
    # a literal, not a parameter: DuckDB imports pandas (~0.6 s) for its first parameter, and
    # this query runs before the parse workers start (later, the import overlaps their work)
    cur = con.execute(f"SELECT * FROM raw.manifest WHERE exercice = {int(exercice)}")
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
    from dagster_project.parsing import Rejet, convention_in_name, parse_mandats
    from dagster_project.parsing.mandats import DOUBLON
    from dagster_project.parsing.rules import rules_digest

    phases = PhaseClock()
    init_raw_schema(con)
    now = now or datetime.now()
    workers = workers or default_workers()
    summary = IngestSummary(exercice=exercice)

    files = discover_files(raw_dir, exercice)
    prev = _previous_manifest(con, exercice)
    phases.mark("list")
    if workers > 1:
        # workbooks likely to be parsed (new, or size/mtime changed): if the pool will be used,
        # launch its fork server now, so that it is ready once the files are hashed
        seen = {k: (v["size_bytes"], v["mtime_ns"]) for k, v in prev.items()}
        likely = sum(
            f.kind == KIND_OPERATEUR and seen.get(f.source_file) != (f.size_bytes, f.mtime_ns)
            for f in files
        )
        if likely >= POOL_MIN_FILES:
            prestart_workers()
    hashes = hash_files(
        files, {k: (v["size_bytes"], v["mtime_ns"], v["sha256"]) for k, v in prev.items()}
    )
    phases.mark("hash")

    def unchanged(f: RawFile) -> bool:
        p = prev.get(f.source_file)
        return bool(p) and p["sha256"] == hashes[f.source_file] and p["kind"] == f.kind

    workbooks = [f for f in files if f.kind == KIND_OPERATEUR]
    exports = [f for f in files if f.kind == KIND_FINANCES]
    others = [f for f in files if f.kind == KIND_AUTRE]

    # 1. Parse new and changed workbooks. Everything below runs in one transaction per exercise
    #    (the whole new state or the old one): each batch's rows are inserted as soon as it is
    #    parsed, so the database work overlaps the parsing and no batch waits in memory.
    results: dict[str, Any] = {}
    rules = rules_digest()  # a workbook parsed under other rules is parsed again (rules.py)
    to_parse = [
        f
        for f in workbooks
        if not unchanged(f)
        or prev[f.source_file]["status"] == "removed"
        or prev[f.source_file]["checked_against"] != rules
    ]
    current = {f.source_file for f in files}
    by_path = {str(f.path): f for f in workbooks}
    sink = RowSink(
        con,
        {str(f.path): (f.source_file, hashes[f.source_file]) for f in workbooks},
        loaded_at=now,
        run_id=run_id,
    )
    exports_read: dict[str, Any] = {}  # finance exports read while the workers parse

    def parse_into_tables(todo: list[RawFile], alongside: Callable[[], None] = lambda: None):
        with parse_workbooks([f.path for f in todo], exercice, workers) as job:
            alongside()
            # previous rows of these files go first (the new ones carry the same source_file);
            # a file absent from the manifest has none (rows and manifest change together)
            _delete_rows(con, {f.source_file for f in todo if f.source_file in prev}, DATA_TABLES)
            for i, (batch, batch_results, tables) in enumerate(job, start=1):
                # with workers, the last rows go in while they still parse (see RowSink)
                sink.add(batch, tables, len(job.batches) - i if job.use_pool else None)
                for path, res in zip(batch, batch_results, strict=True):
                    results[by_path[path].source_file] = res
                phases.mark("first_batch", once=True)
            sink.flush()
        if todo:
            summary.parse_workers = max(summary.parse_workers, workers if job.use_pool else 1)
            phases.mark("parse")  # after the pool's shutdown

    def read_changed_exports() -> None:
        for f in exports:
            p = prev.get(f.source_file)
            if not unchanged(f) or p["status"] == "removed":
                exports_read[f.source_file] = parse_mandats(f.path, exercice=exercice)

    # DuckDB's client imports pandas (~0.5 s) at the first Arrow scan or parameter, i.e. in
    # the middle of the load: imported meanwhile, while the parse pool starts
    warm_imports.start("pandas")
    con.execute("BEGIN TRANSACTION")
    try:
        parse_into_tables(to_parse, read_changed_exports)

        # 2. Which workbook counts for each convention: the most recently modified one, even
        #    when it is refused (the contract: the newest file counts; an operator's refused
        #    correction must not hand the convention back to the version it corrects). A refused
        #    workbook takes part under its N° convention when it was read, for this exercise, or,
        #    when the file could not be opened at all, under the number its name carries
        #    (discovery.convention_candidate); otherwise it takes no part.
        def read_convention(f: RawFile) -> tuple[str | None, str | None]:
            """(the N° convention read in the workbook, its refusal's reason if it is refused)."""
            if f.source_file in results:
                res = results[f.source_file]
                why = (res.rejets[0].reason if res.rejets else "") if res.file_rejected else None
                return res.num_convention, why
            p = prev[f.source_file]
            return p["num_convention"], (p["detail"] or "") if p["status"] == "rejected" else None

        def convention_of(f: RawFile) -> str | None:
            # unread but refused: under its file name's number (cold review: a truncated 'v3'
            # left 'v2' published, exit 0)
            return convention_candidate(*read_convention(f), f.file_name, exercice)

        candidates = [(f.source_file, f.mtime_ns, convention_of(f)) for f in workbooks]
        by_source = {f.source_file: f for f in workbooks}
        winner_of: dict[str, RawFile] = {
            conv: by_source[sf] for conv, sf in newest_per_convention(candidates).items()
        }
        winners = {f.source_file for f in winner_of.values()}
        # what was loaded: the files' bytes, and which workbook counts where there is a choice
        summary.input_sha256 = inputs_digest(
            hashes, candidates, [(f.source_file, f.mtime_ns) for f in exports]
        )

        # A winner whose rows are not in the tables (it was the replaced one until now): parse it.
        late = [
            f
            for f in workbooks
            if f.source_file in winners
            and f.source_file not in results
            and prev[f.source_file]["status"] not in ("loaded", "rejected")
        ]
        if late:
            parse_into_tables(late)

        def is_refused(f: RawFile) -> bool:
            r = results.get(f.source_file)
            return r.file_rejected if r is not None else prev[f.source_file]["status"] == "rejected"

        refused_winners = {f.source_file for f in winner_of.values() if is_refused(f)}
        summary.files_parsed = len(results)
        summary.files_unchanged = len(workbooks) - len(results)

        # 3. Decide each file's fate and what to delete / insert.
        to_delete = {sf for sf in prev if sf not in current}  # removed from the folder
        kept: set[str] = set()  # parsed workbooks loaded: their new rows are already in the tables
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
                # workbooks: the parse rules (rules.py); exports: the verdicts' inputs (below)
                "checked_against": rules if f.kind == KIND_OPERATEUR else None,
                "rows_read": 0,
                "rows_loaded": 0,
                "rows_rejected": 0,
                "run_id": run_id,
                "loaded_at": now,
            }
            row.update(kw)
            return row

        def replaced_detail(conv: str, f: RawFile) -> str:
            winner = winner_of[conv]
            # an exact tie of modification times is settled by the name (newest_per_convention):
            # 'plus récent' would be untrue (a copy made with cp -p, an unzipped folder)
            why = ("même date de modification : départagé par le nom du fichier"
                   if f.mtime_ns == winner.mtime_ns else "plus récent")
            if winner.source_file in refused_winners:
                return (f"remplacé par {winner.file_name} ({why} ; refusé, voir son rejet : "
                        "la convention n'a pas de classeur chargé)")
            return f"remplacé par {winner.file_name} ({why})"

        def replaced_row(f: RawFile, conv: str, rows_read: int) -> dict:
            """A workbook superseded by a newer one for the same convention: its rows count as
            refused (they are not loaded), and the manifest says which file replaced it."""
            return manifest_row(
                f,
                "replaced",
                num_convention=conv,
                replaced_by=winner_of[conv].source_file,
                detail=replaced_detail(conv, f),
                rows_read=rows_read,
                rows_rejected=rows_read,
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

        def add_rejets(f: RawFile, items) -> None:
            # values are on record as the parsers give them: identifiers already pseudonymised
            for rj in items:
                rejets.append(
                    {
                        "exercice": exercice,
                        "source_file": f.source_file,
                        "file_name": f.file_name,
                        "sheet": rj.sheet,
                        "row_number": rj.row_number,
                        "column_name": rj.column_name,
                        "value": rj.value,
                        "reason": rj.reason,
                        "montant": rj.montant,
                        "num_mandat": rj.num_mandat,
                        "num_convention": rj.num_convention,
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
                still_replaced = (  # by the same file, refused or not as before
                    p["status"] == "replaced"
                    and conv in winner_of
                    and p["replaced_by"] == winner_of[conv].source_file
                    and p["detail"] == replaced_detail(conv, f)
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
                add_rejets(f, res.rejets)
                inserts["raw_actions"].extend(lineage(f, [res.action]))
                kept.add(sf)
                manifest_rows.append(
                    manifest_row(
                        f,
                        "loaded",
                        num_convention=res.num_convention,
                        rows_read=res.rows_read,
                        rows_loaded=res.rows_loaded,
                        rows_rejected=res.rows_rejected,
                        detail=res.detail,
                    )
                )

        # 4. Finance exports: re-checked when the loaded conventions changed (the "unknown
        #    convention" refusal depends on them) or when any export changed, came or went: a
        #    mandate already in another export is refused, so each export's verdicts depend on
        #    all the others. Then every export is re-read, in order, as on a fresh load.
        conventions = sorted(
            c for c, f in winner_of.items() if f.source_file not in refused_winners
        )
        # conventions without a loaded workbook because theirs (their newest) was refused: their
        # mandates say so, naming that workbook
        refused_workbook: dict[str, str] = {
            c: f.file_name for c, f in winner_of.items()
            if f.source_file in refused_winners and read_convention(f)[0] is not None
        }
        # refused workbooks whose convention could not be read (unreadable file, malformed
        # number) but whose name carries one: named as a hint in their mandates' refusal (a
        # refused workbook whose convention was read is a candidate above: either its
        # convention's winner, in refused_workbook, or older than a loaded one). First the one
        # that counts (the newest, chosen under its name's number), then any other.
        named_in_refused: dict[str, str] = {
            c: f.file_name for c, f in winner_of.items()
            if f.source_file in refused_winners and read_convention(f)[0] is None
        }
        for r in sorted(manifest_rows, key=lambda m: m["source_file"]):
            if (
                r["kind"] == KIND_OPERATEUR
                and r["status"] == "rejected"
                and not r["num_convention"]
                and (hint := convention_in_name(r["file_name"]))
                and hint[1] == exercice
            ):
                named_in_refused.setdefault(hint[0], r["file_name"])
        # conventions whose workbook was removed from the folder: their mandates name it,
        # instead of an unknown convention. The convention's last event on record says so (in
        # raw.manifest_history, so the refusal reads the same whenever it is re-checked), or
        # this run's removals (newer); of several files, the newest (the one that counted).
        # Nothing to say when the file is back, or the convention loaded again.
        removed_workbook: dict[str, str] = {
            conv: name
            for conv, status, sf, name in con.execute(
                "SELECT num_convention, status, source_file, file_name FROM raw.manifest_history "
                "WHERE exercice = ? AND kind = ? AND num_convention IS NOT NULL "
                "QUALIFY row_number() OVER (PARTITION BY num_convention "
                "ORDER BY loaded_at DESC, mtime_ns DESC, source_file DESC) = 1",
                [exercice, KIND_OPERATEUR],
            ).fetchall()
            if status == "removed" and sf not in current
        }
        gone = [p for sf, p in prev.items()
                if sf not in current and p["kind"] == KIND_OPERATEUR and p["num_convention"]]
        for p in sorted(gone, key=lambda p: (p["mtime_ns"], p["source_file"])):
            removed_workbook[p["num_convention"]] = p["file_name"]  # the newest last
        for c in conventions:  # loaded again (another workbook): nothing to say
            removed_workbook.pop(c, None)
        # A mandate number in two exports counts once, from the most recently modified export
        # (the kit's rule for two workbooks of one convention; a corrected export wins whatever
        # its name), the name settling a tie the same way (the last one); the other line is
        # refused, naming the export that counts. (That order is in input_sha256 too.)
        by_source_file = {f.source_file: f for f in exports}
        mtimes = Counter(f.mtime_ns for f in exports)
        exports_by_precedence = [
            by_source_file[sf]
            for sf in exports_precedence((f.source_file, f.mtime_ns) for f in exports)
        ]
        conv_digest = digest_lines(
            [
                # version of the verdicts: "2" records refused lines' amounts and mandate
                # numbers, "3" their convention, "4" the newest export counting a mandate
                # number found in two (a warehouse loaded before re-reads its exports once)
                "verdicts:4",
                rules,  # the export parser's own rules (parsing/mandats.py) included
                *conventions,
                *(f"refusé:{c}:{n}" for c, n in refused_workbook.items()),
                *(f"nommé:{c}:{n}" for c, n in named_in_refused.items()),
                *(f"retiré:{c}:{n}" for c, n in sorted(removed_workbook.items())),
                # with their rank: which export counts a mandate number found in two of them;
                # and whether one shares its time with another (the refusal says "the newest"
                # or "the same time"): a touch that changes neither re-reads nothing
                *(f"export:{i}:{f.source_file}:{hashes[f.source_file]}"
                  f"{':même date' if mtimes[f.mtime_ns] > 1 else ''}"
                  for i, f in enumerate(exports_by_precedence)),
            ]
        )
        known_conventions = set(conventions)
        seen_mandats: dict[str, RawFile] = {}  # mandate number → the export that counts it
        for f in exports_by_precedence:
            sf = f.source_file
            p = prev.get(sf)
            if unchanged(f) and p["checked_against"] == conv_digest and p["status"] != "removed":
                summary.files_unchanged += 1  # not read again, as an unchanged workbook
                manifest_rows.append({**p, "mtime": _ts(f.mtime_ns), "mtime_ns": f.mtime_ns})
                seen_mandats.update(
                    (r[0], f)
                    for r in con.execute(
                        "SELECT num_mandat FROM raw.raw_mandats WHERE source_file = ?", [sf]
                    ).fetchall()
                )
                continue
            to_delete.add(sf)
            res = exports_read.pop(sf, None) or parse_mandats(f.path, exercice=exercice)
            summary.files_parsed += 1
            add_rejets(f, res.rejets)
            kept_rows: list[dict] = []
            extra_rejected = 0
            for row in res.rows:
                conv = row["num_convention"]
                if conv not in known_conventions and conv in refused_workbook:
                    reason = (
                        "convention sans classeur chargé : le classeur "
                        f"« {refused_workbook[conv]} » "
                        "de cette convention a été refusé (voir son rejet)"
                    )
                elif conv not in known_conventions and conv in named_in_refused:
                    reason = (
                        "convention sans classeur chargé : le classeur refusé "
                        f"« {named_in_refused[conv]} » porte ce numéro dans son nom "
                        "(voir son rejet)"
                    )
                elif conv not in known_conventions and conv in removed_workbook:
                    reason = (
                        "convention sans classeur chargé : son classeur "
                        f"« {removed_workbook[conv]} » a été retiré du dossier"
                    )
                elif conv not in known_conventions:
                    reason = "convention inconnue : aucun classeur chargé pour cette convention"
                elif (counted_in := seen_mandats.get(row["num_mandat"])) is not None:
                    why = ("le plus récent" if counted_in.mtime_ns != f.mtime_ns
                           else "à date égale, le dernier par son nom")
                    reason = (
                        f"{DOUBLON} (déjà présent dans un autre export : compté dans "
                        f"« {counted_in.file_name} », {why})"
                    )
                else:
                    seen_mandats[row["num_mandat"]] = f
                    kept_rows.append(row)
                    continue
                extra_rejected += 1
                col = "N° mandat" if reason.startswith(DOUBLON) else "N° convention"
                val = row["num_convention"] if col == "N° convention" else row["num_mandat"]
                add_rejets(
                    f, [Rejet(None, row["source_row"], col, val, reason, row["montant"],
                              row["num_mandat"], row["num_convention"])]
                )
            inserts["raw_mandats"].extend(lineage(f, kept_rows))
            # refused whole (unreadable, missing column, empty), or every line refused
            refused = res.file_rejected or (res.rows_read > 0 and not kept_rows)
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
                    rows_loaded=len(kept_rows),
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

        # 5. Write: rows of files that go (removed, refused, replaced, re-read), then the new state.
        #    Only files on record before this run, or parsed now with rows, have rows to delete.
        def has_rows(sf: str) -> bool:
            res = results.get(sf)
            return sf in prev or (res is not None and bool(res.n_participants or res.n_cer))

        _delete_rows(con, {sf for sf in to_delete - kept if has_rows(sf)}, DATA_TABLES)
        _delete_rows(con, {sf for sf in to_delete if sf in prev}, ("rejets",))
        for t, rows in inserts.items():
            _insert(con, t, rows)
        _insert(con, "rejets", rejets)
        con.execute(f"DELETE FROM raw.manifest WHERE exercice = {int(exercice)}")
        _insert(con, "manifest", manifest_rows)
        changed = [r for r in manifest_rows if r["run_id"] == run_id] + removed_rows
        _insert(con, "manifest_history", changed)
        phases.mark("write")
        con.execute("COMMIT")
        phases.mark("commit")
    except BaseException:
        con.execute("ROLLBACK")
        raise

    for r in manifest_rows:
        summary.rows_read += r["rows_read"] or 0
        summary.rows_loaded += r["rows_loaded"] or 0
        summary.rows_rejected += r["rows_rejected"] or 0
        if r["status"] == "replaced":
            summary.rows_replaced += r["rows_rejected"] or 0
        key = {
            "loaded": "files_loaded",
            "rejected": "files_rejected",
            "ignored": "files_ignored",
            "replaced": "files_replaced",
        }[r["status"]]
        setattr(summary, key, getattr(summary, key) + 1)
    summary.files_removed = len(removed_rows)
    summary.timings_s, summary.clock = phases.durations(), dict(phases.ends)
    summary.first_reasons = [f"{f} [{s}, {r}] : {why}"
                             for f, s, r, _, why in first_refusals(con, 5, exercice)]
    summary.refused_files = sorted(
        f"{r['source_file']} : {r['detail']}" for r in manifest_rows if r["status"] == "rejected"
    )
    log(
        f"exercice {exercice}: {summary.files_parsed} fichier(s) lu(s), "
        f"{summary.files_unchanged} inchangé(s), {summary.files_ignored} ignoré(s) ; "
        f"{summary.rows_loaded} lignes chargées, {rows_phrase(summary)}"
    )
    return summary
