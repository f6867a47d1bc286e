"""Command line: ``bilan-data --exercice 2017 --scale 1 --seed 2017 --out data/raw``.

Builds the targets and the plan, clears ``<out>/<exercice>/operateurs`` and
``<out>/<exercice>/finances``, then writes one workbook per convention (in
parallel worker processes) and the mandates CSV. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from .csv_writer import write_mandats
from .layout import choose_layout
from .ods_writer import write_ods
from .plan import Plan, build_plan
from .sheets import workbook_sheets
from .targets import build_targets
from .xlsx_writer import write_xlsx

_PLAN: Plan | None = None  # shared with forked workers
_DIR: Path | None = None
_NAMES: list[str] = []


def _write_one(i: int) -> str:
    assert _PLAN is not None and _DIR is not None
    c = _PLAN.conventions[i]
    lay = choose_layout(c, _PLAN.exercice, _PLAN.seed)
    sheets = workbook_sheets(c, lay)
    created = datetime(_PLAN.exercice + 1, 1, 15, 9, 0) + timedelta(
        days=c.numero % 120, minutes=c.numero % 480
    )
    path = _DIR / _NAMES[i]
    if lay.fmt == "ods":
        write_ods(path, sheets, created, c.operator.name)
    else:
        write_xlsx(path, sheets, created, c.operator.name)
    return path.name


def _write_chunk(idx: list[int]) -> list[str]:
    return [_write_one(i) for i in idx]


def generate(
    exercice: int, out: Path | str, scale: int = 1, seed: int = 2017, jobs: int | None = None
) -> Plan:
    """Write the drop of ``exercice`` under ``out/<exercice>/`` and return its plan."""
    global _PLAN, _DIR, _NAMES
    plan = build_plan(build_targets(exercice, scale, seed), seed)
    base = Path(out) / str(exercice)
    op_dir, fin_dir = base / "operateurs", base / "finances"
    for d in (op_dir, fin_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    # file names must be unique: disambiguate collisions deterministically
    seen: set[str] = set()
    names: list[str] = []
    for c in plan.conventions:
        name = choose_layout(c, exercice, seed).filename
        if name.lower() in seen:
            stem, ext = name.rsplit(".", 1)
            name = f"{stem} ({c.numero}).{ext}"
        seen.add(name.lower())
        names.append(name)
    _PLAN, _DIR, _NAMES = plan, op_dir, names
    n = len(plan.conventions)
    jobs = jobs or min(2, os.cpu_count() or 1)
    try:
        if jobs > 1 and n > 40 and "fork" in mp.get_all_start_methods():
            chunks = [list(range(k, n, jobs * 8)) for k in range(jobs * 8)]
            pool = mp.get_context("fork").Pool(jobs)
            try:
                for _ in pool.imap_unordered(_write_chunk, chunks):
                    pass
                # Workers leave on the end-of-work message. ``with Pool`` would terminate() them
                # with SIGTERM instead, and a process that inherited SIGTERM ignored (seen under
                # pytest-xdist) then waits forever for workers that never die.
                pool.close()
            except BaseException:
                pool.terminate()
                raise
            finally:
                pool.join()
        else:
            _write_chunk(list(range(n)))
    finally:
        _PLAN, _DIR, _NAMES = None, None, []
    write_mandats(fin_dir / f"mandats_{exercice}.csv", plan)
    return plan


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bilan-data", description="Write a synthetic reporting drop.")
    p.add_argument("--exercice", type=int, required=True)
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--seed", type=int, default=2017)
    p.add_argument("--out", default="data/raw")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: up to 2)")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    plan = generate(a.exercice, Path(a.out), a.scale, a.seed, a.jobs)
    n_part = sum(len(c.participants) for c in plan.conventions)
    n_cer = sum(len(c.cer) for c in plan.conventions)
    print(
        f"{len(plan.conventions)} workbooks ({n_part} participant rows, {n_cer} CER rows), "
        f"{len(plan.mandates)} mandates -> {Path(a.out) / str(a.exercice)} "
        f"in {time.perf_counter() - t0:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
