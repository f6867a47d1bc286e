"""Build a development warehouse for the dbt project from hand-written raw rows.

    python dbt/dev/build_fixture.py /tmp/dbtdev                      # good 2099 data
    python dbt/dev/build_fixture.py /tmp/dbtdev 2099_regles_cassees  # + rows breaking rules
    python dbt/dev/build_fixture.py /tmp/dbtdev 2017_ecart_publie    # + 2017 off published totals
    python dbt/dev/build_fixture.py /tmp/dbtdev 2017_conforme        # + 2017 matching the report

Writes <warehouse_dir>/bilan.duckdb (replaced) with schema `raw` as in docs/architecture.md,
then: cd dbt && BILAN_WAREHOUSE_DIR=/tmp/dbtdev ../.venv/bin/dbt build --profiles-dir .
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

DEV_DIR = Path(__file__).resolve().parent


def build(warehouse_dir: str | Path, *extras: str) -> Path:
    warehouse_dir = Path(warehouse_dir)
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    db = warehouse_dir / "bilan.duckdb"
    for path in (db, db.with_name(db.name + ".wal")):
        path.unlink(missing_ok=True)
    scripts = ["fixture_raw_schema.sql", "fixture_2099_ok.sql"]
    with duckdb.connect(str(db)) as con:
        for name in extras:
            if (DEV_DIR / f"fixture_{name}.py").exists():
                continue
            scripts.append(f"fixture_{name}.sql")
        for script in scripts:
            con.execute((DEV_DIR / script).read_text(encoding="utf-8"))
        if "2017_conforme" in extras:
            sys.path.insert(0, str(DEV_DIR))
            import fixture_2017_conforme

            fixture_2017_conforme.insert(con)
    return db


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(build(sys.argv[1], *sys.argv[2:]))
