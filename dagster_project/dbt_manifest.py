"""Keep dbt's manifest.json current without a manual ``dbt parse``.

Dagster needs the manifest to build the asset graph at import. A fresh clone has none, and a
stale one hides new models, so it is (re)generated in-process with dbt's Python API whenever any
project file is newer than it. In-process avoids paying dbt's ~3 s interpreter start twice.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from dagster_dbt import DbtProject

WATCHED = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")


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
    res = dbtRunner().invoke(
        ["parse", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
         "--target-path", str(manifest.parent), "--quiet"]
    )
    if not res.success or not manifest.exists():
        raise RuntimeError(f"dbt parse failed: {res.exception}")
    return manifest
