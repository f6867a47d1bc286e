"""dbt's target folder: the manifest kept current, the parse cache reused, old runs pruned.

Dagster needs the manifest to build the asset graph at import. A fresh clone has none, and a
stale one hides new models, so it is (re)generated in-process with dbt's Python API whenever any
project file is newer than it. In-process avoids paying dbt's ~3 s interpreter start twice.

dagster-dbt runs each ``dbt build`` in a target folder of its own (``dbt/target/<step>-<run>-<id>``)
and seeds it with ``dbt/target/partial_parse.msgpack``, dbt's parse cache. dbt reuses that cache
only if it was written for the same profile and the same ``--target``, and nothing ever wrote one
for the runs' own: every build parsed the project in full (~2 s of a 15 s dbt step, measured; 5-6 s
of 25 s on a busy machine). So the parse here passes ``--target`` and renders the profile like the
builds, and after each build its cache is copied back (:func:`after_build`): the next build reuses
it, in whichever warehouse (the builds' profile names no warehouse folder:
:mod:`dagster_project.dbt_workdir`). dbt checks the cache itself (project files, profile, target,
vars, version) and parses in full whenever it does not match: a stale cache costs time, never a
wrong build.
The per-run folders (~14 MB each: dbt.log, manifest, compiled SQL) are pruned to the newest
:data:`RUNS_KEPT` (sparing any written to within the last hour), so a nightly schedule does not
fill the disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project import dbt_workdir

WATCHED = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")
TARGET = "dev"  # the profile's target, passed by every invocation (the parse cache depends on it)
PARTIAL_PARSE = "partial_parse.msgpack"
RUNS_KEPT = 10  # per-run target folders kept (the newest), for a look at a recent run's dbt.log
IN_USE_SECONDS = 3600  # a folder written to since then may belong to a build still running


def _newest_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in WATCHED:
        p = project_dir / name
        if p.is_file():
            newest = max(newest, p.stat().st_mtime)
        elif p.is_dir():
            for f in p.rglob("*"):
                if f.is_file():
                    newest = max(newest, f.stat().st_mtime)
    return newest


def _is_current(manifest: Path, project_dir: Path) -> bool:
    return manifest.exists() and manifest.stat().st_mtime >= _newest_mtime(project_dir)


def ensure_manifest(project: DbtProject) -> Path:
    manifest = Path(project.manifest_path)
    project_dir = Path(project.project_dir)
    if _is_current(manifest, project_dir):
        return manifest
    # Several processes may import the definitions at once (parallel tests, webserver + daemon):
    # one parses, the others wait for it and reuse its manifest.
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with (manifest.parent / ".parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_current(manifest, project_dir):
            return manifest
        return _parse(project_dir, manifest)


def _parse(project_dir: Path, manifest: Path) -> Path:
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("BILAN_WAREHOUSE_DIR", str(project_dir.parent / "data" / "warehouse"))
    # the builds' profile (they run in the warehouse folder: dbt_workdir.py), so that they can
    # start from this parse's cache; a parse opens no database. Only profiles.yml reads it.
    with dbt_workdir.temporary_env({dbt_workdir.DATABASE_ENV: dbt_workdir.DATABASE}):
        res = dbtRunner().invoke(
            ["parse", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
             "--target", TARGET, "--target-path", str(manifest.parent), "--quiet"]
        )
    if not res.success or not manifest.exists():
        raise RuntimeError(f"dbt parse failed: {res.exception}")
    return manifest


def after_build(run_target: Path, project_target: Path, *, prefix: str) -> None:
    """After a build that ran to its end in ``run_target``: run folders named ``<prefix>-*``
    beyond the newest :data:`RUNS_KEPT` go, then its parse cache becomes the one the next build
    starts from (copied aside, then renamed over the old one: builds in other warehouses may read
    it at the same time). Pruning comes first: a full disk, which fails the copy, is when it
    matters most."""
    try:
        prune_runs(project_target, prefix=prefix)
    finally:
        cache = run_target / PARTIAL_PARSE
        if cache.is_file():
            tmp = project_target / f".{PARTIAL_PARSE}.{os.getpid()}.tmp"
            try:
                shutil.copyfile(cache, tmp)
                os.replace(tmp, project_target / PARTIAL_PARSE)
            finally:
                tmp.unlink(missing_ok=True)  # a failed copy leaves nothing behind


def prune_runs(project_target: Path, *, prefix: str, keep: int = RUNS_KEPT) -> list[Path]:
    """Delete the run folders ``<prefix>-*`` beyond the ``keep`` newest, except any written to
    within :data:`IN_USE_SECONDS` (a build may still be using it), and the temporary copies of a
    parse cache a killed process left (as old). Returns those deleted."""

    def last_write(d: Path) -> float:
        return max([d.stat().st_mtime, *(f.stat().st_mtime for f in d.iterdir())], default=0.0)

    runs = []
    for d in project_target.glob(f"{prefix}-*"):
        try:
            runs.append((last_write(d), d))
        except OSError:  # deleted meanwhile by another process's prune
            continue
    runs.sort(reverse=True)
    cutoff = time.time() - IN_USE_SECONDS
    deleted = []
    for written, d in runs[keep:]:
        if written < cutoff:
            shutil.rmtree(d, ignore_errors=True)
            deleted.append(d)
    for tmp in project_target.glob(f".{PARTIAL_PARSE}.*.tmp"):
        with contextlib.suppress(OSError):  # another process's, renamed or deleted meanwhile
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                deleted.append(tmp)
    return deleted
