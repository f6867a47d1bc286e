"""``bilan run`` and ``bilan-dbt`` end without Python's last full garbage collection
(dagster_project/process_exit.py), keep their exit status, and leave nothing unclosed for it.

Each probe is a fresh interpreter: the freeze is only for a process's end, never for this one.
An ``atexit`` handler registered first runs last, after the code under test has returned: it
says whether the heap was frozen by then.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from dagster_project import dbt_guard

PROBE = (
    "import atexit, gc; "
    "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0, flush=True)); "
)


def _python(code: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE + code], capture_output=True, text=True,
                          timeout=120, **kw)


def test_bilan_ends_frozen_with_mains_status():
    done = _python("import dagster_project.cli as cli; cli.main = lambda argv=None: 3; cli.entry()")
    assert done.returncode == 3, done.stderr
    assert done.stdout.split() == ["frozen", "True"]


def test_bilan_ends_frozen_when_main_raises():
    done = _python(
        "import dagster_project.cli as cli\n"
        "def boom(argv=None): raise RuntimeError('en panne')\n"
        "cli.main = boom; cli.entry()"
    )
    assert done.returncode == 1 and "RuntimeError: en panne" in done.stderr
    assert done.stdout.split() == ["frozen", "True"]


@pytest.mark.parametrize("pause_s", [0, 0.5])
def test_a_reader_that_goes_away_ends_bilan_quietly(pause_s):
    """`bilan run | head`: once the reader has gone, what bilan prints is dropped and it ends with
    its own status, without a traceback (it printed one, BrokenPipeError, from its summary, or
    'Exception ignored … BrokenPipeError' and status 120 from its last flush at exit)."""
    reader = subprocess.Popen(["head", "-c", "10"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as a terminal's
    done = subprocess.run(
        [sys.executable, "-c", "import time, dagster_project.cli as cli\n"
         "def talk(argv=None):\n"
         "    print('Synthèse publiée ' * 600)\n"  # more than the pipe's buffer
         f"    time.sleep({pause_s}); print('Publié'); return 0\n"
         "cli.main = talk; cli.entry()"],
        stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=120, env=env)
    reader.stdin.close()
    reader.wait(timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr


def test_the_bilan_command_is_the_freezing_entry():
    (script,) = entry_points(group="console_scripts", name="bilan")
    assert script.value == "dagster_project.cli:entry"
    # and `python -m dagster_project.cli`, which the tests and `make` use, goes through it too
    done = _python("import runpy, sys; sys.argv = ['bilan', '--help']; "
                   "runpy.run_module('dagster_project.cli', run_name='__main__')")
    assert done.returncode == 0 and "usage: bilan" in done.stdout
    assert done.stdout.split()[-2:] == ["frozen", "True"]


def test_bilan_dbt_ends_frozen_with_dbts_status():
    """Real dbt (``--version``), then dbt's failure status passed through unchanged."""
    done = _python("import sys; sys.argv = ['bilan-dbt', '--version']; "
                   "from dagster_project import dbt_guard; dbt_guard.main()")
    assert done.returncode == 0 and "Core:" in done.stdout, done.stderr
    assert done.stdout.split()[-2:] == ["frozen", "True"]
    failed = _python("import sys, dbt.cli.main as m; m.cli = lambda: sys.exit(2); "
                     "from dagster_project import dbt_guard; dbt_guard.main()")
    assert failed.returncode == 2
    assert failed.stdout.split() == ["frozen", "True"]


def test_what_the_freeze_gives_up_a_connection_left_to_the_collector_keeps_its_wal(tmp_path):
    """Why the test below means something: a DuckDB connection that only the collector would
    close (it sits in a reference cycle) is never closed once the heap is frozen, and its
    write-ahead log stays beside the file."""
    code = (
        "import sys, duckdb\n"
        "from dagster_project.process_exit import skip_final_collection\n"
        "class Holder: pass\n"
        "h = Holder(); h.cycle = h\n"
        "h.con = duckdb.connect(sys.argv[1])\n"
        "h.con.execute('CREATE TABLE t AS SELECT range AS i FROM range(1000)')\n"
        "del h\n"
        "if sys.argv[2] == 'freeze': skip_final_collection()\n"
    )
    for mode in ("collect", "freeze"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / f"{mode}.duckdb"), mode],
                       check=True, timeout=60)
    assert not (tmp_path / "collect.duckdb.wal").exists()
    assert (tmp_path / "freeze.duckdb.wal").exists()


def test_a_dbt_duckdb_build_through_bilan_dbt_leaves_no_write_ahead_log(tmp_path):
    """dbt-duckdb closes its database when dbt releases its last handle, not in the collector's
    last pass: a build through ``bilan-dbt`` (frozen as it returns) leaves no WAL beside the
    file, a failing one neither. Only dbt itself can show it: the job's next step opens the
    warehouse read-write, which would replay and remove a WAL dbt left behind."""
    project, db = tmp_path / "p", tmp_path / "w.duckdb"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: p\nversion: '1.0.0'\nprofile: p\nconfig-version: 2\n")
    (project / "profiles.yml").write_text(
        f"p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: '{db}'\n"
        "      threads: 2\n")
    (project / "models" / "a.sql").write_text("select range as i from range(100000)")
    (project / "models" / "b.sql").write_text("select i * 2 as j from {{ ref('a') }}")
    env = {k: v for k, v in os.environ.items() if k != dbt_guard.PARENT_ENV}
    env.update(DO_NOT_TRACK="1", DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    dbt = [str(Path(sys.executable).with_name("bilan-dbt")), "build", "--project-dir",
           str(project), "--profiles-dir", str(project), "--target-path", str(tmp_path / "t"),
           "--log-path", str(tmp_path / "logs")]
    built = subprocess.run(dbt, capture_output=True, text=True, timeout=180, cwd=project, env=env)
    assert built.returncode == 0, built.stdout[-2000:]
    assert db.exists() and not db.with_name(db.name + ".wal").exists()
    (project / "models" / "c.sql").write_text("select * from {{ ref('b') }} where no_such_column")
    failed = subprocess.run(dbt, capture_output=True, text=True, timeout=180, cwd=project, env=env)
    assert failed.returncode == 1, failed.stdout[-2000:]
    assert not db.with_name(db.name + ".wal").exists()


def test_a_run_ending_frozen_leaves_no_write_ahead_log(run_2017):
    """``bilan run`` (the session's real run, through :func:`entry`) closes what it opened
    before it ends: no WAL beside the warehouse or the published marts (for the warehouse,
    dbt's own is shown above: the publication reopens it after dbt; Dagster's files are
    test_event_log's)."""
    wh = run_2017.warehouse_dir
    assert (wh / "bilan.duckdb").exists() and (wh / "marts.duckdb").exists()
    assert not list(wh.glob("*.wal"))

