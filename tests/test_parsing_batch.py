"""The loader's columnar fast path (parsing/batch.py) gives exactly what parse_workbook gives.

Why: the loader never calls parse_workbook at scale; it parses through parse_batch (row tuples,
per-sheet constants, Arrow tables). Any drift between the two would change the loaded rows
without any parsing test noticing. Checked on the whole committed 2017 drop (220 workbooks,
.xlsx and .ods) plus the hand-made defective workbooks of the parsing tests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dagster_project.parsing import parse_workbook
from dagster_project.parsing.batch import FILE_COLUMN, ROW_SCHEMAS, parse_batch
from tests.conftest import ROOT, process_alive
from tests.fixtures_parsing import (
    CER_HEADER,
    FORMATS,
    PARTICIPANT_HEADER,
    action_rows,
    write_workbook,
)

DROP = sorted(
    p
    for p in (ROOT / "data" / "raw" / "2017" / "operateurs").iterdir()
    if p.suffix in (".xlsx", ".ods")
)


def _expected(paths: list[Path]):
    results = [parse_workbook(p, exercice=2017) for p in paths]
    rows = {"raw_participants": [], "raw_cer": []}
    for i, r in enumerate(results):
        rows["raw_participants"] += [{**d, FILE_COLUMN: i} for d in r.participants]
        rows["raw_cer"] += [{**d, FILE_COLUMN: i} for d in r.cer]
    return results, rows


@pytest.mark.parametrize("chunk", [slice(0, 110), slice(110, None)])
def test_parse_batch_equals_parse_workbook_on_the_drop(chunk):
    paths = DROP[chunk]
    expected_results, expected_rows = _expected(paths)
    results, tables = parse_batch(paths, 2017)
    assert set(tables) == set(ROW_SCHEMAS)
    for name, table in tables.items():
        assert table.schema == ROW_SCHEMAS[name]
        assert table.to_pylist() == expected_rows[name], name
    assert sum(t.num_rows for t in tables.values()) > 1000  # the drop really has rows
    for got, exp in zip(results, expected_results, strict=True):
        assert (got.num_convention, got.action, got.rejets, got.file_rejected) == (
            exp.num_convention,
            exp.action,
            exp.rejets,
            exp.file_rejected,
        )
        assert (got.rows_read, got.rows_loaded, got.rows_rejected) == (
            exp.rows_read,
            exp.rows_loaded,
            exp.rows_rejected,
        )
        assert (got.n_participants, got.n_cer) == (len(exp.participants), len(exp.cer))
        assert got.participants == () and got.cer == ()


def test_parse_batch_with_rejected_rows_and_files(tmp_path):
    """Row rejections as parse_workbook gives them (identifiers masked); a refused file: no rows;
    .xlsx and .ods, Participants and CER sheets, in one batch."""
    d = dt.date
    participants = [
        PARTICIPANT_HEADER,
        ["P1", d(2017, 2, 1), d(2017, 6, 1), "DEMENAGEMENT", None],
        ["P2", d(2017, 3, 1), d(2017, 1, 1), "DEMENAGEMENT", None],  # exit before entry
        ["P1", d(2017, 2, 1), d(2017, 6, 1), "DEMENAGEMENT", None],  # duplicate
        ["P3", "05/04/2017", None, None, "Oui"],
    ]
    cer = [CER_HEADER, ["C1", d(2017, 2, 2), "Oui"], ["C2", "pas une date", "Non"]]
    paths = [DROP[0]]
    for fmt in FORMATS:
        paths += [
            write_workbook(
                tmp_path / f"defauts.{fmt}", {"Action": action_rows(), "Participants": participants}
            ),
            write_workbook(
                tmp_path / f"ru.{fmt}",
                {
                    "Action": action_rows(
                        {
                            "N° convention": "PDI-2017-0002",
                            "Code thématique": "RU",
                            "Nombre de référents": 2,
                        }
                    ),
                    "Participants": participants[:2],
                    "CER": cer,
                },
            ),
        ]
    not_a_workbook = tmp_path / "pas_un_classeur.xlsx"
    not_a_workbook.write_text("ceci n'est pas un classeur")
    paths.append(not_a_workbook)
    expected_results, expected_rows = _expected(paths)
    results, tables = parse_batch(paths, 2017)
    for name, table in tables.items():
        assert table.to_pylist() == expected_rows[name], name
    assert tables["raw_cer"].num_rows == 2  # C1 in each format
    for i in (1, 3):  # the defective workbooks, .xlsx then .ods
        exp = expected_results[i]
        assert len(exp.rejets) == 2 and not exp.file_rejected
        assert results[i].rejets == exp.rejets
    assert results[2].rejets == expected_results[2].rejets  # RU: CER sheet only
    assert results[-1].file_rejected and results[-1].n_participants == 0


def _parse_job_run(paths, workers: int):
    """Iterate a ParseJob; returns what it yielded and, after each yield, how many batches the
    job held (queued in the pool or done and waiting to be consumed)."""
    from dagster_project.ingestion import loader

    seen, held = [], []
    with loader.parse_workbooks(paths, 2017, workers) as job:
        for batch, results, tables in job:
            held.append(len(job._pending))
            seen.append((batch, results, {k: t.to_pylist() for k, t in tables.items()}))
        assert job.use_pool == (workers > 1)
    return seen, held


@pytest.fixture
def small_batches(monkeypatch):
    """40 workbooks in 20 batches of 2, 2 batches in flight per worker, pool from 1 file up."""
    from dagster_project.ingestion import loader

    monkeypatch.setattr(loader, "POOL_MIN_FILES", 1)
    monkeypatch.setattr(loader, "BATCH_FILES", 2)
    monkeypatch.setattr(loader.ParseJob, "IN_FLIGHT", 2)
    return DROP[:40]


def test_parse_job_streams_in_order_with_bounded_batches_in_flight(small_batches):
    """The loader's process pool: results in submission order, identical to the one-process
    parse, and never more than workers x IN_FLIGHT batches queued or waiting to be consumed."""
    expected, _ = _parse_job_run(small_batches, 1)
    seen, held = _parse_job_run(small_batches, 2)
    assert seen == expected
    assert [p for b, _, _ in seen for p in b] == [str(p) for p in small_batches]
    assert max(held) == 2 * 2 and all(n <= 2 * 2 for n in held), held  # kept full, bounded


def test_parse_job_does_not_wait_for_the_pool_to_start(small_batches, monkeypatch):
    """Starting a worker waits for the fork server's imports: entering the job must not, so the
    loader's own work (finance export, deletions) overlaps the start-up. Here the pool only
    starts once the body of ``with`` has run: entering would deadlock (30 s, then fail) if it
    waited for the pool. Same stream, in order."""
    import threading

    from dagster_project.ingestion import loader

    expected, _ = _parse_job_run(small_batches, 1)
    real_pool, body_ran = loader._pool, threading.Event()

    def pool_after_body(workers):
        assert body_ran.wait(timeout=30), "entering the job waited for the pool"
        return real_pool(workers)

    monkeypatch.setattr(loader, "_pool", pool_after_body)
    seen = []
    with loader.parse_workbooks(small_batches, 2017, 2) as job:
        body_ran.set()
        for batch, results, tables in job:
            seen.append((batch, results, {k: t.to_pylist() for k, t in tables.items()}))
    assert seen == expected


def test_parse_job_errors_and_early_exit(small_batches, monkeypatch):
    """A pool that cannot start is an error raised to the consumer, not a hang; leaving the job
    while the pool is still starting cancels the batches and shuts the pool down once it is up;
    iterating outside ``with`` is refused instead of silently yielding nothing."""
    import threading

    from dagster_project.ingestion import loader

    real_pool = loader._pool

    def broken_pool(workers):
        raise OSError("fork server did not start")

    monkeypatch.setattr(loader, "_pool", broken_pool)
    with pytest.raises(OSError, match="fork server did not start"):
        _parse_job_run(small_batches, 2)

    release, pools = threading.Event(), []

    def slow_pool(workers):
        release.wait(timeout=30)
        pools.append(real_pool(workers))
        return pools[-1]

    monkeypatch.setattr(loader, "_pool", slow_pool)
    with pytest.raises(KeyError), loader.parse_workbooks(small_batches, 2017, 2) as job:
        proxies = [f for _, f in job._pending]
        threading.Timer(0.3, release.set).start()
        raise KeyError("the loader failed before reading any batch")
    assert all(f.cancelled() for f in proxies)
    assert len(pools) == 1 and job._pool is None
    with pytest.raises(RuntimeError):  # the pool was shut down on the way out
        pools[0].submit(len, [])

    job = loader.parse_workbooks(small_batches, 2017, 2)
    with pytest.raises(RuntimeError, match="inside `with"):
        next(iter(job))


def test_parse_workers_import_neither_numpy_nor_pandas():
    """pyarrow imports numpy as soon as it is imported, and pandas (~0.5 s of CPU) on a process's
    first ``pa.array`` unless told there is none: the fork server loads the parsers without numpy
    (a third of its start), the workers refuse both (loudly, if anything in them asks for them)
    and still build the same Arrow tables. The loader's own process keeps both."""
    import sys

    from dagster_project.ingestion import loader
    from dagster_project.parsing.refusal import Refusal

    paths = [str(p) for p in DROP[:3]]
    pool = loader._pool(2)
    try:
        in_worker = pool.submit(_parse_and_report, paths).result()
        names = ("numpy", "pandas", "numpy.ma")
        refused = {n: pool.submit(_import_error, n).result() for n in names}
    finally:
        pool.shutdown()
    assert refused == {
        "numpy": "numpy is not imported in parse workers",
        "pandas": "pandas is not imported in parse workers",
        "numpy.ma": "numpy is not imported in parse workers",
    }
    assert in_worker["imported"] == {"numpy": False, "pandas": False, "preload": True}
    assert in_worker["tables"] == _parse_and_report(paths)["tables"]
    assert not any(isinstance(f, Refusal) for f in sys.meta_path)
    assert __import__("numpy") and __import__("pandas")
    # the server lifts its refusal once the task is loaded (a worker's start is not ours): a
    # worker without the pool's initializer may import numpy
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=loader._forkserver()) as bare:
        assert bare.submit(_import_error, "numpy").result() is None


def test_refusing_lifts_its_refusal_after_the_block(tmp_path, monkeypatch):
    """The fork server refuses numpy only while it imports the parsers: a worker's start, which
    runs multiprocessing's code, must not fail on a refusal meant for the parsers."""
    import sys

    from dagster_project.parsing.refusal import Refusal, refusing

    (tmp_path / "pas_encore_importe.py").write_text("VALEUR = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with refusing("pas_encore_importe", "sys"):
            (finder,) = [f for f in sys.meta_path if isinstance(f, Refusal)]
            assert finder.names == {"pas_encore_importe"}  # "sys" is already imported: left alone
            with pytest.raises(ModuleNotFoundError, match="pas_encore_importe"):
                __import__("pas_encore_importe")
        assert not any(isinstance(f, Refusal) for f in sys.meta_path)
        assert __import__("pas_encore_importe").VALEUR == 1
    finally:
        sys.modules.pop("pas_encore_importe", None)


def test_parse_workers_load_neither_duckdb_nor_the_loader(small_batches):
    """A worker unpickles its initializer and task by module: both live in the module the fork
    server preloads, so a worker parses without importing the loader and DuckDB first."""
    from dagster_project.ingestion import loader

    with loader.parse_workbooks(small_batches, 2017, 2) as job:
        assert len(list(job)) == len(job.batches)
        probe = "[m for m in __import__('sys').modules if m.split('.')[0] == 'duckdb' or " \
            "m.startswith('dagster_project.ingestion')]"
        assert job._pool is not None
        assert job._pool.submit(eval, probe).result() == []


_MAIN = """\
import marque_du_main  # what a console script's main imports (``dagster ...``: all of Dagster)

if __name__ == "__main__":
    from dagster_project.ingestion import loader

    with loader._pool(1) as pool:
        probe = "'marque_du_main' in __import__('sys').modules"
        print(pool.submit(eval, probe).result())
"""


@pytest.mark.parametrize("launch", ["script", "module"])
def test_parse_workers_do_not_run_the_parents_main_module(tmp_path, launch):
    """multiprocessing re-runs the parent's main module in every worker it starts. Under the
    ``dagster`` console script (``dagster asset materialize``, ``dagster job execute``) that is
    ``dagster._cli``: ~0.7 s of imports per worker before its first batch. Parse workers take
    their task and initializer by module name and never need the parent's main, so the fork
    server they come from skips it (parsing/preload.py), whether the parent was started as a
    script or with ``python -m``."""
    import os
    import subprocess
    import sys

    (tmp_path / "marque_du_main.py").write_text("")
    (tmp_path / "lance_le_pool.py").write_text(_MAIN)
    target = ["lance_le_pool.py"] if launch == "script" else ["-m", "lance_le_pool"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run(
        [sys.executable, *target], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def _import_error(name: str) -> str | None:
    try:
        __import__(name)
    except ImportError as exc:
        return str(exc)
    return None


def _parse_and_report(paths):
    import sys

    _, tables = parse_batch(paths, 2017)
    return {
        "imported": {
            "numpy": "numpy" in sys.modules,
            "pandas": "pandas" in sys.modules,
            "preload": "dagster_project.parsing.preload" in sys.modules,
        },
        "tables": {k: t.to_pylist() for k, t in tables.items()},
    }


def _cer_rows(start: int, n: int):
    """``n`` raw_cer rows of two workbooks (``a.xlsx``, ``b.ods``), in two Arrow chunks."""
    import pyarrow as pa

    schema = ROW_SCHEMAS["raw_cer"]

    def part(lo: int, hi: int) -> pa.Table:
        cols = {
            "exercice": [2017] * (hi - lo),
            "num_convention": ["2017-0001"] * (hi - lo),
            "identifiant": [f"P{i}" for i in range(lo, hi)],
            "date_signature": [dt.date(2017, 3, 1)] * (hi - lo),
            "accompagnement_social": [True] * (hi - lo),
            "source_sheet": ["CER"] * (hi - lo),
            "source_row": list(range(lo, hi)),
            FILE_COLUMN: [i % 2 for i in range(lo, hi)],
        }
        return pa.table(cols, schema=schema)

    mid = start + n // 3
    return pa.concat_tables([part(start, mid), part(mid, start + n)])


def _row_sink(tmp_path):
    from datetime import datetime

    import duckdb

    from dagster_project.ingestion.loader import RowSink
    from dagster_project.ingestion.warehouse import init_raw_schema

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    init_raw_schema(con)
    paths = ["a.xlsx", "b.ods"]
    sink = RowSink(
        con,
        {p: (f"2017/operateurs/{p}", f"sha-{p}") for p in paths},
        loaded_at=datetime(2026, 1, 1),
        run_id="test",
    )
    return con, sink, paths


def _check_cer_table(con, total: int) -> None:
    """Full row groups then one partial, every row once, with its lineage."""
    groups = con.execute(  # the rows of each row group: its first column's data segments
        "SELECT row_group_id, sum(count) FROM pragma_storage_info('raw.raw_cer') "
        "WHERE column_id = 0 AND segment_type <> 'VALIDITY' GROUP BY ALL ORDER BY 1"
    ).fetchall()
    full = total // 122_880
    assert [n for _, n in groups] == [122_880] * full + [total - full * 122_880]
    got = con.execute(
        "SELECT count(*), count(DISTINCT identifiant), min(source_row), max(source_row), "
        "count(*) FILTER (source_file = '2017/operateurs/b.ods' AND file_sha256 = 'sha-b.ods') "
        "FROM raw.raw_cer"
    ).fetchone()
    assert got == (total, total, 0, total - 1, total // 2)


def test_row_sink_writes_full_row_groups_whatever_the_batch_sizes(tmp_path):
    """The loader inserts parsed rows in blocks of exactly one DuckDB row group, whatever the
    sizes and chunking of the batches: odd-sized row groups would be merged again (the table
    re-written) by the checkpoint at commit. Nothing is lost or duplicated on the way."""
    from dagster_project.ingestion.loader import RowSink

    con, sink, paths = _row_sink(tmp_path)
    sizes = [40_000, 90_001, 7, 130_000, 50_000, 250_000]  # the last: two row groups in one batch
    con.execute("BEGIN TRANSACTION")
    start = 0
    for n in sizes:
        sink.add(paths, {"raw_cer": _cer_rows(start, n)})
        start += n
        # never more than one block waits in the loader, even after a batch of two row groups
        assert sum(t.num_rows for t in sink.pending["raw_cer"]) < RowSink.INSERT_ROWS
    sink.flush()
    con.execute("COMMIT")
    assert sink.inserted == {"raw_cer": sum(sizes)}
    _check_cer_table(con, sum(sizes))


@pytest.mark.parametrize("last", [5_000, 200_000], ids=["as-estimated", "estimate-far-off"])
def test_row_sink_inserts_the_last_rows_while_the_workers_parse(tmp_path, last):
    """Told how many batches are left, the sink inserts a table's last partial block as soon as
    those batches cannot fill another one, and every later batch straight away: nothing is left
    for after the last batch. The table still ends in full row groups and one partial, even when
    a later batch brings far more rows than estimated."""
    con, sink, paths = _row_sink(tmp_path)
    sizes = [130_000, 20_000, 5_000, 5_000, last]
    con.execute("BEGIN TRANSACTION")
    start = 0
    for i, n in enumerate(sizes):
        left = len(sizes) - i - 1
        sink.add(paths, {"raw_cer": _cer_rows(start, n)}, batches_left=left)
        start += n
        # after 4 batches (averaging 40,000 rows), 37,120 rows wait and one batch is left
        assert ("raw_cer" in sink.direct) == (left <= 1)
        assert sink.inserted["raw_cer"] == (start if left <= 1 else start // 122_880 * 122_880)
    assert sink.pending == {}
    sink.flush()
    con.execute("COMMIT")
    assert sink.inserted == {"raw_cer": sum(sizes)}
    _check_cer_table(con, sum(sizes))


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ({"rows": 120_000, "batches_left": 0}, 6_000),  # almost a row group waiting at the end
        ({"rows": 40_000, "flush": True}, 130_000),  # a second parse after the flush
    ],
    ids=["switch-with-a-large-remainder", "rows-after-flush"],
)
def test_row_sink_never_leaves_two_partial_row_groups(tmp_path, first, then):
    """The rows that wait when a table switches to appends, or at the flush, go in as appends
    too: inserted at once, ~110 k rows and more were written as a row group of their own, and
    the rows after them started another partial one (merged again by the checkpoint)."""
    con, sink, paths = _row_sink(tmp_path)
    con.execute("BEGIN TRANSACTION")
    sink.add(paths, {"raw_cer": _cer_rows(0, first["rows"])}, first.get("batches_left"))
    if first.get("flush"):
        sink.flush()
    sink.add(paths, {"raw_cer": _cer_rows(first["rows"], then)})
    sink.flush()
    con.execute("COMMIT")
    _check_cer_table(con, first["rows"] + then)


ORPHANS = """
import os, sys, time
from dagster_project.ingestion.loader import _pool
pool = _pool(2)
for f in [pool.submit(time.sleep, 0.3) for _ in range(4)]:
    f.result()
workers = list(pool._processes)
print(" ".join(map(str, workers)), flush=True)
time.sleep(120)
"""


def test_parse_workers_leave_when_their_loader_is_killed(tmp_path):
    """A worker waits for its next batch on a queue it holds both ends of, and the fork server
    waits for its workers: after a ``kill -9`` of the loader (``bilan run``), both stayed for
    ever (~190 MB). The workers now watch the loader and leave within a second of its death."""
    import os
    import subprocess
    import sys
    import time

    alive = process_alive
    proc = subprocess.Popen([sys.executable, "-c", ORPHANS], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    workers = [int(pid) for pid in proc.stdout.readline().split()]
    try:
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
        with open(f"/proc/{workers[0]}/stat", encoding="ascii") as f:
            server = int(f.read().rsplit(")", 1)[1].split()[1])
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(map(alive, [*workers, server])):
            time.sleep(0.1)
        assert not any(map(alive, workers)), "parse workers outlived their loader"
        assert not alive(server), "the fork server outlived the loader"
    finally:
        for pid in workers:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
