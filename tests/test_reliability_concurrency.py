"""Reliability under concurrency: one writer at a time, bounded waits, transient locks retried.

Issue 4, point 5. A second ``bilan run`` while another process holds the warehouse writer lock
waits ``BILAN_LOCK_TIMEOUT`` seconds, then fails with exit code 3 naming the holder; a DuckDB
file briefly held by another writer process is retried with backoff by ``warehouse.connect``; a
step waiting for a pool slot sleeps. Seconds each: no dbt, one toy Dagster run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from dagster_project.ingestion.warehouse import LOCK_FILE, WarehouseBusy, connect, writer_lock
from tests.conftest import ROOT, pipeline_env, process_alive


def test_second_run_waits_then_fails_naming_the_holder(tmp_path):
    (tmp_path / "raw" / "2019").mkdir(parents=True)
    wh = tmp_path / "warehouse"
    with writer_lock(wh, timeout_s=1, holder="test: un autre bilan run"):
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "dagster_project.cli", "run"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env=pipeline_env(tmp_path / "raw", wh, tmp_path / "dagster_home",
                             BILAN_LOCK_TIMEOUT="2"),
        )
        waited = time.monotonic() - t0
        # the waiter that gave up did not erase who holds the lock
        holder = json.loads((wh / LOCK_FILE).read_text())
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert waited >= 2
    assert f'"pid": {os.getpid()}' in proc.stderr
    assert "un autre bilan run" in proc.stderr and "2 s" in proc.stderr
    assert holder["pid"] == os.getpid()
    assert not (wh / "bilan.duckdb").exists()  # it never touched the warehouse


def test_lock_is_free_again_when_its_holder_dies(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time, sys
            from pathlib import Path
            from dagster_project.ingestion.warehouse import writer_lock
            with writer_lock(Path({str(tmp_path)!r}), holder="condamné"):
                print("held", flush=True)
                time.sleep(60)
        """)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusy, match="condamné"):
            with writer_lock(tmp_path, timeout_s=0.5):
                pass
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs
        holder.wait()
    with writer_lock(tmp_path, timeout_s=2, holder="suivant"):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["holder"] == "suivant"


HOLD_WRITE_CONNECTION = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 42 AS x")
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
""")


def test_transient_duckdb_lock_is_retried_with_backoff(tmp_path):
    db = tmp_path / "bilan.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_CONNECTION, str(db), "1.5"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        t0 = time.monotonic()
        with pytest.raises(duckdb.IOException, match="(?i)lock"):
            connect(db, attempts=1)  # no retry: the lock error surfaces at once
        con = connect(db)  # default: retried with backoff until the other writer is gone
        waited = time.monotonic() - t0
        assert con.execute("SELECT x FROM t").fetchone() == (42,)
        con.close()
    finally:
        holder.kill()
        holder.wait()
    assert waited >= 0.5
    assert db.stat().st_mode & 0o777 == 0o600


def test_non_lock_errors_are_not_retried(tmp_path):
    bad = tmp_path / "pas_une_base.duckdb"
    bad.write_bytes(b"ceci n'est pas une base DuckDB" * 100)
    t0 = time.monotonic()
    with pytest.raises(duckdb.Error):
        connect(bad)
    assert time.monotonic() - t0 < 1.0


def test_a_step_waiting_for_a_pool_slot_sleeps(tmp_path):
    """A run whose step waits for the ``warehouse_writer`` kind of slot another run holds must
    not spin: Dagster 1.13's in-process executor never slept between two claims (one core at
    100 % for the whole wait, here 15 min of CPU beside a run the daemon launched). The code
    location installs the fix (dagster_project.concurrency_wait); without it this run spends
    its whole wait on the CPU."""
    import threading

    import dagster as dg

    import dagster_project.definitions  # noqa: F401  (what every run imports)

    @dg.op(pool="test_pool")
    def write():
        return 1

    @dg.job
    def job():
        write()

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("test_pool", 1)
        assert storage.claim_concurrency_slot("test_pool", "other-run", "other-step").is_claimed
        release = threading.Timer(4.0, storage.free_concurrency_slots_for_run, ["other-run"])
        release.start()
        try:
            cpu, wall = time.process_time(), time.perf_counter()
            result = job.execute_in_process(instance=instance)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            release.cancel()
    assert result.success
    assert wall >= 4  # it did wait for the slot
    assert cpu < 1.5, f"{cpu:.2f} s of CPU while waiting {wall:.2f} s for a slot"


ORPHAN_DBT = """
import os, subprocess, sys
from dagster_project import dbt_guard
from dagster_project.resources import dbt_executable
exe = dbt_executable()
os.environ[dbt_guard.PARENT_ENV] = str(os.getpid())  # as the dbt asset does
# its output piped to the launcher, as dagster-dbt does: once the launcher is killed, writing
# to that pipe fails (a watchdog that said goodbye on stderr died of it, dbt went on)
child = subprocess.Popen([exe, "parse", "--project-dir", sys.argv[1], "--profiles-dir",
                          sys.argv[1], "--target-path", sys.argv[2], "--log-path", sys.argv[2]],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
print(exe, child.pid, flush=True)
sys.stdin.read()  # until killed
"""


def test_dbt_ends_with_the_run_that_launched_it(tmp_path):
    """``kill -9`` of ``bilan run`` during ``dbt build`` left dbt running, re-parented, writing
    bilan.duckdb without the writer lock its launcher held: the next run failed once its
    retries were spent (cold on-call review). The resource's dbt (``bilan-dbt``) ends within a
    second of its launcher's death. Here the launcher starts a real ``dbt parse`` (seconds of
    work) and is killed while it runs."""
    alive = process_alive
    launcher = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_DBT, str(ROOT / "dbt"), str(tmp_path / "target")],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=pipeline_env(tmp_path / "raw", tmp_path / "warehouse", tmp_path / "dagster_home"))
    exe, pid = launcher.stdout.readline().split()
    dbt = int(pid)
    try:
        assert exe.endswith("bilan-dbt"), exe
        time.sleep(0.5)
        assert alive(dbt), "dbt parse ended before its launcher was killed"
        launcher.kill()  # SIGKILL: no cleanup code runs in the launcher
        launcher.wait()
        deadline = time.monotonic() + 2  # the parse alone takes ~5 s (plain dbt: still alive)
        while alive(dbt) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(dbt), "dbt outlived the run that launched it"
        # stopped, not finished: the parse never wrote its manifest
        assert not (tmp_path / "target" / "manifest.json").exists()
    finally:
        try:
            os.kill(dbt, 9)
        except ProcessLookupError:
            pass


def test_dbt_guard_watches_only_the_launcher_it_is_told_of(tmp_path):
    """``bilan-dbt`` run by hand (no launcher named) is plain dbt, never stopped; a launcher
    named but already gone (killed before dbt started) stops it at once."""
    from dagster_project import dbt_guard

    env = {k: v for k, v in os.environ.items() if k != dbt_guard.PARENT_ENV}
    probe = ("from dagster_project import dbt_guard; import sys; "
             "print(dbt_guard.watch_parent() is not None); sys.stdout.flush()")
    alone = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    assert (alone.returncode, alone.stdout.strip()) == (0, "False"), alone.stderr
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: a pid that is nobody's parent any more
    gone = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**env, dbt_guard.PARENT_ENV: str(dead.pid)})
    assert gone.returncode == dbt_guard.ORPHANED and not gone.stdout, gone.stdout
    assert "a disparu" in gone.stderr
