"""The parse floor: python-calamine alone reads every cell of every workbook, nothing else.

    python benchmarks/floor.py RAW_DIR [--processes N]

No label matching, no typing, no rows built, no database: the least any reader of these files
must spend. ``--processes 1`` (the default, the figure the targets use) reads file by file in
this process; ``--processes N`` splits the files over N processes (the floor for N cores).
Prints one JSON line: seconds, files, cells.
"""

from __future__ import annotations

import argparse
import json
import time
from multiprocessing import get_context
from pathlib import Path

from python_calamine import CalamineWorkbook


def read_all(paths: list[str]) -> int:
    cells = 0
    for p in paths:
        with CalamineWorkbook.from_path(p) as wb:
            for name in wb.sheet_names:
                for row in wb.get_sheet_by_name(name).to_python(skip_empty_area=False):
                    cells += len(row)
    return cells


def workbooks(raw: Path) -> list[str]:
    return sorted(
        str(p) for p in raw.glob("*/operateurs/*") if p.suffix.lower() in (".xlsx", ".ods")
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw", type=Path)
    ap.add_argument("--processes", type=int, default=1)
    a = ap.parse_args()
    paths = workbooks(a.raw)
    t0 = time.perf_counter()
    if a.processes <= 1:
        cells = read_all(paths)
    else:
        parts = [paths[i :: a.processes] for i in range(a.processes)]
        with get_context("forkserver").Pool(a.processes) as pool:
            cells = sum(pool.map(read_all, parts))
    print(json.dumps({"seconds": time.perf_counter() - t0, "files": len(paths), "cells": cells}))


if __name__ == "__main__":
    main()
