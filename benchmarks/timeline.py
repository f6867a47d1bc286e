"""Where one ingestion's time goes: its phases, and how many cores were busy during each.

    python benchmarks/timeline.py RAW_DIR [--workers 2 1] [--rounds 3]

Why: ``workers_speedup`` is bounded by the parts of a load that run on one core while the other
waits; a profile of one process does not show them. This runs ``ingest_only.py`` (a fresh
warehouse each time, the settings in turn, round after round) while it reads the machine's CPU
time (``/proc/stat``) every 10 ms, and prints each phase of the load (``loader.PhaseClock``, with
``connect`` before it and ``close`` after it: the loader's summary query, then the connection's
close and checkpoint) with its seconds and the cores busy meanwhile (user, system and interrupt
time; not idle, I/O wait nor time stolen by the hypervisor): 2.0 on a 2-core machine means both
saturated. Then the median of each phase over the rounds.

Whole-machine figures: run it on an otherwise idle machine (Linux only). The kernel counts CPU
time in ticks of 10 ms, so a phase shorter than ~0.1 s gets a rough figure.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(BENCH) not in sys.path:  # bench.py's helpers, when loaded from elsewhere (the tests)
    sys.path.insert(0, str(BENCH))

from bench import PY, env_for, fresh_warehouse  # noqa: E402


def read_busy_seconds() -> float:
    """CPU time spent working by all CPUs since boot (user, nice, system, irq, softirq), in s."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return sum(int(fields[i]) for i in (1, 2, 3, 6, 7)) / os.sysconf("SC_CLK_TCK")


def busy_at(samples: list[tuple[float, float]], t: float) -> float:
    """The machine's busy seconds at time ``t``, interpolated between the two nearest samples
    (``samples``: (time.perf_counter, busy seconds), in time order)."""
    times = [s[0] for s in samples]
    i = bisect.bisect_left(times, t)
    if i == 0:
        return samples[0][1]
    if i == len(samples):
        return samples[-1][1]
    (ta, ia), (tb, ib) = samples[i - 1], samples[i]
    return ia + (ib - ia) * (t - ta) / (tb - ta) if tb > ta else ib


def busy_cores(samples: list[tuple[float, float]], a: float, b: float) -> float | None:
    """Average number of busy cores between ``a`` and ``b`` (None for an empty interval)."""
    if b <= a:
        return None
    return (busy_at(samples, b) - busy_at(samples, a)) / (b - a)


def phases(result: dict) -> list[tuple[str, float, float]]:
    """(name, start, end) of each phase of one ``ingest_only.py`` result: ``connect`` (its clock's
    start to the first load's start), each exercise's phases (prefixed with the exercise when
    there are several), ``close`` (the last load's end to its clock's end)."""
    t0, t1 = result["clock"]
    out, prev = [], t0
    ends_by_ex = result["phase_ends"]
    for ex, ends in ends_by_ex.items():
        items = list(ends.items())
        prefix = f"{ex} " if len(ends_by_ex) > 1 else ""
        out.append(("connect" if not out else f"{prefix}between", prev, items[0][1]))
        for (_, a), (name, b) in zip(items, items[1:], strict=False):
            out.append((prefix + name, a, b))
        prev = items[-1][1]
    out.append(("close", prev, t1))
    return out


class BusySampler(threading.Thread):
    """Reads the machine's busy CPU time every ``every`` seconds until :meth:`stop`."""

    def __init__(self, every: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.every, self.samples, self._done = every, [], threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.samples.append((time.perf_counter(), read_busy_seconds()))
            self._done.wait(self.every)
        self.samples.append((time.perf_counter(), read_busy_seconds()))

    def stop(self) -> list[tuple[float, float]]:
        self._done.set()
        self.join()
        return self.samples


def one_run(raw: Path, workers: int, work: Path) -> tuple[dict, list[tuple[float, float]]]:
    """``ingest_only.py`` on ``raw`` into a fresh warehouse under ``work``: its JSON result, and
    the machine's busy CPU time sampled meanwhile."""
    db = fresh_warehouse(work / f"timeline_w{workers}")
    sampler = BusySampler()
    sampler.start()
    try:
        proc = subprocess.run(
            [PY, str(BENCH / "ingest_only.py"), str(raw), str(db), "--workers", str(workers)],
            cwd=ROOT, env=env_for(BILAN_INGEST_WORKERS=workers), capture_output=True, text=True,
        )
    finally:
        samples = sampler.stop()
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode or not lines:
        raise SystemExit(f"timeline: ingest_only.py failed (rc={proc.returncode}) on {raw}:\n"
                         f"{proc.stderr[-3000:]}")
    return json.loads(lines[-1]), samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw", type=Path)
    ap.add_argument("--workers", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    table: dict[int, dict[str, list[tuple[float, float | None]]]] = {w: {} for w in a.workers}
    totals: dict[int, list[float]] = {w: [] for w in a.workers}
    with tempfile.TemporaryDirectory(prefix="bilan-timeline-") as tmp:
        for r in range(1, a.rounds + 1):
            for w in a.workers:
                result, samples = one_run(a.raw, w, Path(tmp))
                totals[w].append(result["seconds"])
                print(f"round {r}, {w} worker(s): {result['seconds']:.2f} s "
                      f"({result['files_parsed']} files, {result['rows_loaded']} rows)")
                for name, s, e in phases(result):
                    busy = busy_cores(samples, s, e)
                    table[w].setdefault(name, []).append((e - s, busy))
                    print(f"  {name:<12} {e - s:7.3f} s   cores busy "
                          f"{'-' if busy is None else f'{busy:.2f}'}")
    print(f"\nmedian of {a.rounds} round(s), {cores} cores "
          "(s, cores busy; the machine as a whole):")
    print("| phase | " + " | ".join(f"{w} worker(s)" for w in a.workers) + " |")
    print("|---|" + "---:|" * len(a.workers))
    names = list(dict.fromkeys(n for w in a.workers for n in table[w]))
    for name in names:
        cells = []
        for w in a.workers:
            got = table[w].get(name, [])
            secs = [s for s, _ in got]
            busy = [b for _, b in got if b is not None]
            cells.append("–" if not secs else f"{statistics.median(secs):.3f} s, "
                         + (f"{statistics.median(busy):.2f}" if busy else "-"))
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("| **total** | " + " | ".join(f"{statistics.median(totals[w]):.3f} s"
                                        for w in a.workers) + " |")


if __name__ == "__main__":
    main()
