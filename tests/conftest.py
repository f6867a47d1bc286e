"""Shared fixtures: one real run of the nightly job on the committed 2017 drop.

The end-to-end run (real DuckDB files, real dbt, a real Dagster instance in a temp DAGSTER_HOME)
costs tens of seconds, so it runs once per session and the tests that only read its outputs share
it. Tests that need a run of their own (failures, kills, concurrency) make their own temp dirs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RAW_2017 = ROOT / "data" / "raw" / "2017"
SEEDS = ROOT / "dbt" / "seeds"


# The files that run the real job several times, longest first. `make test` hands whole files to
# its two workers in collection order (pytest-xdist --dist loadfile --no-loadscope-reorder):
# started first, on different workers, they end with the short files around them rather than
# one worker running them alone at the end (xdist's own order, by number of tests, left the
# longest file last: a minute of one idle core).
LONGEST_FIRST = ("test_reliability_e2e.py", "test_state_skip.py", "test_orchestration_e2e.py",
                 "test_dbt_project.py", "test_dbt_target.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole


@dataclass
class RunOutcome:
    returncode: int
    stdout: str
    stderr: str
    raw_dir: Path
    warehouse_dir: Path
    dagster_home: Path

    @property
    def marts(self) -> Path:
        return self.warehouse_dir / "marts.duckdb"

    @property
    def warehouse(self) -> Path:
        return self.warehouse_dir / "bilan.duckdb"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (Linux): a zombie (ended, not yet reaped) does not."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pipeline_env(raw_dir: Path, warehouse_dir: Path, dagster_home: Path, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        BILAN_RAW_DIR=str(raw_dir),
        BILAN_WAREHOUSE_DIR=str(warehouse_dir),
        DAGSTER_HOME=str(dagster_home),
        DO_NOT_TRACK="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        GX_ANALYTICS_ENABLED="false",
        BILAN_LOCK_TIMEOUT=extra.pop("BILAN_LOCK_TIMEOUT", "30"),
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_pipeline(
    raw_dir: Path, warehouse_dir: Path, dagster_home: Path, timeout: float = 600,
    args: Sequence[str] = (), **extra
) -> RunOutcome:
    """``bilan run`` in a subprocess, exactly as ``make run`` calls it (plus ``args``)."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "dagster_project.cli", "run", *args],
        cwd=ROOT,
        env=pipeline_env(raw_dir, warehouse_dir, dagster_home, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return RunOutcome(
        proc.returncode, proc.stdout, proc.stderr, raw_dir, warehouse_dir, dagster_home
    )


def copy_run(run: RunOutcome, dest: Path) -> tuple[Path, Path, Path]:
    """A private copy of a finished run's raw dir, warehouse and DAGSTER_HOME (instance with its
    runs, materializations and check evaluations), for tests that change or re-run it."""
    raw, wh, home = dest / "raw", dest / "warehouse", dest / "dagster_home"
    shutil.copytree(run.raw_dir, raw)
    shutil.copytree(run.warehouse_dir, wh)
    shutil.copytree(run.dagster_home, home)
    return raw, wh, home


def copy_drop(dest_raw: Path, exercices=("2017",)) -> Path:
    for ex in exercices:
        shutil.copytree(ROOT / "data" / "raw" / ex, dest_raw / ex)
    return dest_raw


@pytest.fixture(scope="session")
def run_2017(tmp_path_factory) -> RunOutcome:
    """The real nightly job on the committed 2017 drop, in temp warehouse and DAGSTER_HOME.

    Run once per test session, not once per xdist worker: the first worker that needs it runs
    it under a file lock in the session's shared temp dir and records the outcome; the others
    wait on the lock and reuse it (a pipeline run less, ~1 min of CPU on 2 cores). Its users only
    read its files or copy them. A worker that dies mid-run releases the lock without an
    outcome: the next one runs it again.
    """
    import fcntl
    import json

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the session's dir, above each worker's own
    base, recorded = shared / "run2017", shared / "run2017.json"
    with open(shared / "run2017.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if recorded.exists():
            outcome = RunOutcome(**{
                k: Path(v) if k.endswith(("_dir", "_home")) else v
                for k, v in json.loads(recorded.read_text()).items()
            })
        else:
            shutil.rmtree(base, ignore_errors=True)  # a run interrupted by a dead worker
            raw = copy_drop(base / "raw")
            outcome = run_pipeline(raw, base / "warehouse", base / "dagster_home")
            recorded.write_text(json.dumps({k: str(v) if isinstance(v, Path) else v
                                            for k, v in outcome.__dict__.items()}))
    if outcome.returncode != 0:
        pytest.fail(f"bilan run failed ({outcome.returncode}):\n{outcome.stdout}\n{outcome.stderr}")
    return outcome
