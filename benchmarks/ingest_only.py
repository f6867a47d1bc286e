"""Ingestion alone: ``ingest_exercice`` for every exercise of RAW_DIR into a fresh DuckDB file.

    python benchmarks/ingest_only.py RAW_DIR DB_PATH [--workers N]

Parse + normalise + load of the raw tables, exactly the code the Dagster asset runs (the same
writer connection, ``warehouse.connect``), without Dagster. Prints one JSON line: seconds
(imports excluded), import_seconds, files parsed, rows loaded, the clock's start and end
(``time.perf_counter``, one clock for every process here) so that runs side by side can be
timed together (bench.py's ``ingest_pair``), and each exercise's load phase by phase
(``phases``: seconds; ``phase_ends``: the same clock; see ``loader.PhaseClock``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw", type=Path)
    ap.add_argument("db", type=Path)
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    t_import = time.perf_counter()
    from dagster_project.ingestion.discovery import discover_exercices
    from dagster_project.ingestion.loader import ingest_exercice
    from dagster_project.ingestion.warehouse import connect

    # The clock starts after the imports, as in floor.py and naive.py (and as in the pipeline,
    # where these modules are loaded before the ingestion step); their time is reported apart.
    t0 = time.perf_counter()
    con = connect(a.db)
    parsed = loaded = 0
    phases, ends = {}, {}
    for ex in discover_exercices(a.raw):
        s = ingest_exercice(con, a.raw, ex, run_id="bench", workers=a.workers)
        parsed += s.files_parsed
        loaded += s.rows_loaded
        phases[ex], ends[ex] = s.timings_s, s.clock
    con.close()
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0, "import_seconds": t0 - t_import,
                      "files_parsed": parsed, "rows_loaded": loaded, "clock": [t0, t1],
                      "phases": phases, "phase_ends": ends}))


if __name__ == "__main__":
    main()
