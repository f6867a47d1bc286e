"""Where things live, from the environment, with the project's defaults.

One place for BILAN_RAW_DIR / BILAN_WAREHOUSE_DIR / DAGSTER_HOME so the CLI, Dagster, dbt's
profile, the Makefile and the tests all agree. Paths are resolved when asked, not at import, so
tests can point them elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"

# No internet here, and no reason to phone home anywhere.
for _var, _val in {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "false",
}.items():
    os.environ.setdefault(_var, _val)


def raw_dir() -> Path:
    return Path(os.environ.get("BILAN_RAW_DIR", PROJECT_ROOT / "data" / "raw")).resolve()


def warehouse_dir() -> Path:
    return Path(
        os.environ.get("BILAN_WAREHOUSE_DIR", PROJECT_ROOT / "data" / "warehouse")
    ).resolve()


def dagster_home() -> Path:
    """The Dagster instance's folder: ``$DAGSTER_HOME``, else the Makefile's default
    (``<project>/.dagster_home``). ``bilan run`` typed without it used a throwaway instance: its
    run id, printed on failure, existed nowhere (no UI, no *Re-execute from failure*, no
    alert), as an on-call engineer following the README found."""
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster_home").resolve()


def warehouse_path() -> Path:
    return warehouse_dir() / "bilan.duckdb"


def marts_path() -> Path:
    return warehouse_dir() / "marts.duckdb"


def export_env() -> None:
    """Make the resolved dirs visible to subprocesses (dbt reads BILAN_WAREHOUSE_DIR)."""
    os.environ["BILAN_RAW_DIR"] = str(raw_dir())
    os.environ["BILAN_WAREHOUSE_DIR"] = str(warehouse_dir())
