"""Helpers of the analysts' deliverables tests (tests/test_analysts_*.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "analysts.md"
SQL_BLOCK = re.compile(r"^```sql\s*\n(.*?)^```", re.S | re.M)


def sql_blocks(doc: Path = DOC) -> list[str]:
    return [b.strip() for b in SQL_BLOCK.findall(doc.read_text(encoding="utf-8"))]


def duckdb_cli() -> Path:
    """The DuckDB CLI of the `duckdb-cli` package (dev extra), beside this interpreter."""
    cand = Path(sys.executable).parent / "duckdb"
    if cand.exists():
        return cand
    found = shutil.which("duckdb")
    if not found:
        pytest.fail("duckdb CLI not found: pip install -e '.[dev]' installs duckdb-cli")
    return Path(found)


# The first DuckDB 1.x, the oldest client the published file's storage version (v1.0.0) admits.
# It cannot share the environment with the pipeline's duckdb: installed on first use from the
# package registry (≈ 3 s, 56 MB) into a folder of the venv, removed with it (make clean).
OLDEST_DUCKDB = "1.0.0"


def oldest_duckdb_path() -> Path:
    """A folder holding duckdb==OLDEST_DUCKDB alone, for ``PYTHONPATH`` (installed once)."""
    target = Path(sys.prefix) / f"duckdb-{OLDEST_DUCKDB}"
    if not (target / "duckdb" / "__init__.py").exists():
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
                 "--disable-pip-version-check", "--target", str(tmp),
                 f"duckdb=={OLDEST_DUCKDB}"],
                capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, f"pip could not install duckdb=={OLDEST_DUCKDB}:\n" + (
                proc.stderr[-2000:])
            shutil.rmtree(target, ignore_errors=True)  # an incomplete earlier install
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def cli_json(db: Path, sql: str, timeout: float = 60) -> list[dict]:
    """Run ``sql`` with the 1.x CLI on ``db`` opened read-only; rows of the last statement."""
    proc = subprocess.run(
        [str(duckdb_cli()), "-readonly", "-json", str(db)],
        input=sql, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0 and "Error" not in proc.stderr, (
        f"duckdb CLI failed ({proc.returncode}) on:\n{sql}\n{proc.stderr}")
    out = proc.stdout.strip()
    if not out:
        return []
    # -json prints one JSON array per statement that returns rows; keep the last one.
    last = out[out.rfind("\n[") + 1:] if "\n[" in out else out
    return json.loads(last)


def fr_int(v) -> str:
    """The French way the report must print a count or an amount: 12 782 (narrow nbsp)."""
    return f"{int(Decimal(str(v))):,}".replace(",", "\u202f")


def ensure_chromium() -> str:
    """/usr/bin/chromium, installed from Debian when absent (once; takes a minute)."""
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path:
        return path
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600,
                   capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium",
                    "fonts-dejavu-core"], check=True, env=env, timeout=900, capture_output=True)
    path = shutil.which("chromium")
    assert path, "apt-get install chromium did not provide /usr/bin/chromium"
    return path


def offline_wrapper() -> list[str]:
    """``unshare -n`` (a network namespace with no interface) when this machine allows it."""
    unshare = shutil.which("unshare")
    if not unshare:
        return []
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=30)
    return [unshare, "-n"] if probe.returncode == 0 else []
