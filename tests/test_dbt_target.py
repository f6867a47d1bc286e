"""dbt's target folder: each build reuses the previous one's parse, and old run folders go.

dagster-dbt runs every ``dbt build`` in a folder of its own under dbt's target path and seeds it
with the parse cache it finds there; nothing wrote that cache for the runs' profile, so every
build parsed the whole project again, and the per-run folders (~14 MB each) piled up forever.
Then the cache was the last warehouse's only (the profile named it): the asset's dbt runs in the
warehouse folder, with a profile the same for all (dbt_workdir.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dagster_project import dbt_manifest, dbt_workdir
from tests.conftest import ROOT, copy_run, pipeline_env

PREFIX = "bilan_dbt_assets"


def _run_folder(target: Path, name: str, age_s: float, cache: bytes | None = None) -> Path:
    d = target / name
    d.mkdir(parents=True)
    (d / "dbt.log").write_text("...")
    if cache is not None:
        (d / dbt_manifest.PARTIAL_PARSE).write_bytes(cache)
    then = time.time() - age_s
    for p in (d / "dbt.log", d):
        os.utime(p, (then, then))
    return d


def test_prune_keeps_the_newest_runs_and_any_still_written_to(tmp_path):
    target = tmp_path / "target"
    hour = dbt_manifest.IN_USE_SECONDS
    # 14 finished runs, a day apart; the newest first
    runs = [_run_folder(target, f"{PREFIX}-{i:07d}-abc", (i + 1) * 86_400) for i in range(14)]
    # an old folder whose dbt.log is still being written (a build that started long ago)
    busy = _run_folder(target, f"{PREFIX}-busy000-abc", 30 * 86_400)
    (busy / "dbt.log").write_text("still running")
    # what is not a run folder of this step stays whatever its age
    other = _run_folder(target, "autre_etape-0000000-abc", 90 * 86_400)
    (target / "manifest.json").write_text("{}")

    deleted = dbt_manifest.prune_runs(target, prefix=PREFIX, keep=10)

    assert sorted(deleted) == sorted(runs[9:])  # the busy one counts among the 10 newest
    assert all(d.exists() for d in runs[:9]) and busy.exists() and other.exists()
    assert (target / "manifest.json").exists()
    # nothing recent is deleted, even beyond the count
    for i in range(3):
        _run_folder(target, f"{PREFIX}-recent{i}-abc", hour / 2)
    deleted = dbt_manifest.prune_runs(target, prefix=PREFIX, keep=1)
    assert sorted(deleted) == sorted(runs[:9])
    assert busy.exists() and len(list(target.glob(f"{PREFIX}-recent*"))) == 3


def test_after_build_hands_its_parse_cache_to_the_next_build(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / dbt_manifest.PARTIAL_PARSE).write_bytes(b"cache d'un autre profil")
    run = _run_folder(target, f"{PREFIX}-run0001-abc", 0, cache=b"cache de ce build")

    dbt_manifest.after_build(run, target, prefix=PREFIX)

    assert (target / dbt_manifest.PARTIAL_PARSE).read_bytes() == b"cache de ce build"
    assert not list(target.glob(".*.tmp"))  # copied aside, then renamed over the old one
    assert run.exists()
    # a run folder without a cache (dagster-dbt had none to seed it with, and dbt stopped
    # before writing its own) leaves the previous one in place
    bare = _run_folder(target, f"{PREFIX}-run0002-abc", 0)
    dbt_manifest.after_build(bare, target, prefix=PREFIX)
    assert (target / dbt_manifest.PARTIAL_PARSE).read_bytes() == b"cache de ce build"


def test_a_full_disk_still_prunes_and_leaves_no_partial_copy(tmp_path, monkeypatch):
    """The copy of the cache fails (no space left): the old run folders are deleted anyway (that
    is when they matter), the half-written copy is removed, the error is raised (the dbt step
    logs it), and the previous cache stays whole. A copy a killed process left behind goes once
    it is an hour old."""
    import errno

    target = tmp_path / "target"
    target.mkdir()
    (target / dbt_manifest.PARTIAL_PARSE).write_bytes(b"cache precedent")
    old = [_run_folder(target, f"{PREFIX}-old{i:04d}-abc", (i + 2) * 86_400) for i in range(12)]
    run = _run_folder(target, f"{PREFIX}-run0001-abc", 0, cache=b"nouveau cache")

    def disk_full(src, dst):
        Path(dst).write_bytes(b"nouv")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dbt_manifest.shutil, "copyfile", disk_full)
    with pytest.raises(OSError, match="No space left"):
        dbt_manifest.after_build(run, target, prefix=PREFIX)
    assert [d for d in old if d.exists()] == old[:9]  # with the run's own: the 10 newest
    assert not list(target.glob(".*.tmp"))
    assert (target / dbt_manifest.PARTIAL_PARSE).read_bytes() == b"cache precedent"

    left = target / f".{dbt_manifest.PARTIAL_PARSE}.4242.tmp"
    left.write_bytes(b"abandonne")
    assert dbt_manifest.prune_runs(target, prefix=PREFIX) == []  # recent: maybe being written
    an_hour_ago = time.time() - dbt_manifest.IN_USE_SECONDS - 60
    os.utime(left, (an_hour_ago, an_hour_ago))
    assert dbt_manifest.prune_runs(target, prefix=PREFIX) == [left] and not left.exists()


def test_the_assets_dbt_moves_to_the_warehouse_keeping_dagster_dbts_folders(tmp_path,
                                                                         monkeypatch):
    """bilan-dbt asked by the asset (``WORKDIR_ENV``) runs in the warehouse folder with the
    relative database path; the folders dagster-dbt gives relative to where it started dbt (the
    project) still name the same ones. Not asked, nothing changes (dbt typed by hand)."""
    project, warehouse = tmp_path / "dbt", tmp_path / "entrepot"
    project.mkdir()
    warehouse.mkdir()
    (project / "profiles.yml").write_text("bilan_insertion: {}\n")
    monkeypatch.chdir(project)
    by_hand = {"DBT_TARGET_PATH": "target/x"}
    assert dbt_workdir.enter(by_hand) is None
    assert by_hand == {"DBT_TARGET_PATH": "target/x"} and Path.cwd() == project
    # no warehouse folder (yet): not moved, and the relative path, which means that folder, goes
    no_warehouse = {dbt_workdir.WORKDIR_ENV: str(tmp_path / "absent"),
                    dbt_workdir.DATABASE_ENV: dbt_workdir.DATABASE}
    assert dbt_workdir.enter(no_warehouse) is None and Path.cwd() == project
    assert dbt_workdir.DATABASE_ENV not in no_warehouse
    inherited = {dbt_workdir.DATABASE_ENV: dbt_workdir.DATABASE}
    assert dbt_workdir.enter(inherited) is None and inherited == {}

    environ = {dbt_workdir.WORKDIR_ENV: str(warehouse), "DBT_TARGET_PATH": "target/run-1",
               "DBT_LOG_PATH": "target/run-1", "DBT_PROJECT_DIR": str(project)}
    assert dbt_workdir.enter(environ) == warehouse
    assert Path.cwd() == warehouse
    assert environ["DBT_TARGET_PATH"] == environ["DBT_LOG_PATH"] == str(project / "target/run-1")
    assert environ["DBT_PROFILES_DIR"] == str(project)  # dbt's default: the profiles.yml here
    assert environ[dbt_workdir.DATABASE_ENV] == dbt_workdir.DATABASE == "bilan.duckdb"

    # absolute folders stay; relative ones are read from where dbt was started
    monkeypatch.chdir(tmp_path)
    environ = {dbt_workdir.WORKDIR_ENV: str(warehouse), "DBT_PROJECT_DIR": "dbt",
               "DBT_PROFILES_DIR": "dbt", "DBT_TARGET_PATH": str(tmp_path / "t")}
    dbt_workdir.enter(environ)
    assert environ["DBT_PROJECT_DIR"] == environ["DBT_PROFILES_DIR"] == str(project)
    assert environ["DBT_TARGET_PATH"] == str(tmp_path / "t") and "DBT_LOG_PATH" not in environ


_PARSE_THEN_BUILD_PARSE = """
import os, subprocess, sys
from pathlib import Path
from dagster_project import dbt_manifest, dbt_workdir, settings

target, warehouse = Path(sys.argv[1]), Path(sys.argv[2])
dbt_manifest._parse(settings.DBT_PROJECT_DIR, target / "manifest.json")
assert dbt_workdir.DATABASE_ENV not in os.environ  # rendered for the parse only
# what every build runs: bilan-dbt with the resource's --target, started as dagster-dbt starts it
# (in the project, its folders in the environment), in the warehouse folder the asset names
env = dict(os.environ, DBT_PROJECT_DIR=str(settings.DBT_PROJECT_DIR),
           DBT_PROFILES_DIR=str(settings.DBT_PROJECT_DIR), DBT_TARGET_PATH=str(target),
           DBT_LOG_PATH=str(target), **{dbt_workdir.WORKDIR_ENV: str(warehouse)})
dbt = Path(sys.executable).parent / "bilan-dbt"
subprocess.run([str(dbt), "parse", "--target", "dev"], cwd=settings.DBT_PROJECT_DIR, env=env,
               check=True)
"""


def test_the_manifests_parse_writes_a_cache_the_builds_can_use(tmp_path):
    """The manifest's in-process parse (at the definitions' import) passes the same ``--target``
    as the builds (``dbt_resource()``) and renders their profile (dbt_workdir.py): a build then
    starts from its cache instead of parsing in full (dbt's cache records target and profile)."""
    from dagster_project.resources import dbt_resource

    assert dbt_resource().target == dbt_manifest.TARGET
    target, warehouse = tmp_path / "target", tmp_path / "warehouse"
    warehouse.mkdir()
    env = pipeline_env(tmp_path / "raw", warehouse, tmp_path / "home")
    out = subprocess.run([sys.executable, "-c", _PARSE_THEN_BUILD_PARSE, str(target),
                          str(warehouse)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    log = (target / "dbt.log").read_text()
    assert "Unable to do partial parsing" not in log
    assert "Partial parsing enabled" in log


_TWO_WAREHOUSES = """
import os, sys
import dagster as dg
from dagster_project.assets.dbt import bilan_dbt_assets
from dagster_project.resources import dbt_resource

# one seed: dbt parses the whole project all the same, and that parse is what is compared
for warehouse in sys.argv[1:]:
    os.environ["BILAN_WAREHOUSE_DIR"] = warehouse
    res = dg.materialize([bilan_dbt_assets], resources={"dbt": dbt_resource()},
                         selection=[dg.AssetKey(["seeds", "motifs_sortie"])],
                         raise_on_error=False)
    print("SUCCESS", res.success, flush=True)
"""


@pytest.mark.slow
def test_a_build_reuses_the_previous_ones_parse_in_another_warehouse(run_2017, tmp_path):
    """Two real ``dbt build`` runs of the Dagster asset (one seed), each in a warehouse of its
    own, in a target folder of their own (``DBT_TARGET_PATH``, which dagster-dbt follows; other
    tests' builds share the project's): the first parses the project in full, the second reuses
    its parse although its warehouse is another (the profile's database path named the warehouse:
    every test's and every bench round's build parsed in full). Each build wrote its own
    warehouse, nothing else: dbt ran in the warehouse folder."""
    import duckdb

    warehouses = []
    for name in ("un", "deux"):
        _, wh, _ = copy_run(run_2017, tmp_path / name)
        con = duckdb.connect(str(wh / "bilan.duckdb"))
        con.execute("DROP TABLE seeds.motifs_sortie")
        con.close()
        warehouses.append(wh)
    target = tmp_path / "dbt_target"
    env = pipeline_env(tmp_path / "un" / "raw", warehouses[0], tmp_path / "un" / "dagster_home",
                       DBT_TARGET_PATH=target)
    out = subprocess.run([sys.executable, "-c", _TWO_WAREHOUSES, *map(str, warehouses)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    verdicts = [line for line in out.stdout.splitlines() if line.startswith("SUCCESS ")]
    assert verdicts == ["SUCCESS True", "SUCCESS True"], out.stderr[-3000:]
    first, second = sorted(target.glob(f"{PREFIX}-*"), key=lambda d: d.stat().st_mtime)
    assert "Unable to do partial parsing" in (first / "dbt.log").read_text()
    second_log = (second / "dbt.log").read_text()
    assert "Unable to do partial parsing" not in second_log
    assert "Partial parsing enabled" in second_log  # read, not merely failed to load
    assert (target / dbt_manifest.PARTIAL_PARSE).is_file()
    for wh in warehouses:
        con = duckdb.connect(str(wh / "bilan.duckdb"), read_only=True)
        assert con.execute("SELECT count(*) FROM seeds.motifs_sortie").fetchone()[0] > 0, wh
        con.close()
    # no database opened where dbt was started nor where the test runs
    assert not list((ROOT / "dbt").glob("*.duckdb")) and not list(ROOT.glob("*.duckdb"))
