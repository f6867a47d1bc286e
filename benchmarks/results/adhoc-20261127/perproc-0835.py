"""CPU per process of ``benchmarks/ingest_only.py``, 1 then 2 workers, pinned to one core.

Ad hoc (27 Nov 08:35; output in perproc-0835.txt), not part of ``make bench``: run from the
repository root with the venv's python, ``python benchmarks/results/adhoc-20261127/perproc-0835.py
DROP``. psutil samples every process of the run's tree every 10 ms; the last sample of each is
kept, so up to 10 ms of CPU per process are not counted. The fork server's workers carry its
command line: they are told apart by pid.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def run(drop: str, workers: int, db: str) -> tuple[float, dict[str, float]]:
    for f in (db, db + ".wal"):
        if os.path.exists(f):
            os.unlink(f)
    cmd = ["taskset", "-c", "1", sys.executable, "benchmarks/ingest_only.py", drop, db,
           "--workers", str(workers)]
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    root = psutil.Process(p.pid)
    last: dict[int, float] = {}
    names: dict[int, str] = {}
    while p.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        for q in procs:
            try:
                t = q.cpu_times()
                last[q.pid] = t.user + t.system
                names.setdefault(q.pid, " ".join(q.cmdline())[-60:])
            except psutil.Error:
                pass
        time.sleep(0.01)
    out = json.loads(p.stdout.read())
    return out["seconds"], {f"{k} {names.get(k, '?')}": round(v, 3) for k, v in last.items()}


def main() -> None:
    drop = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        for w in (1, 2, 1, 2, 1, 2):
            seconds, cpu = run(drop, w, os.path.join(d, "pp.duckdb"))
            print(f"pin=True w={w} wall {seconds:.3f} cpu total {sum(cpu.values()):.3f}")
            for k, v in cpu.items():
                print(f"    {v:7.3f}  {k}")


if __name__ == "__main__":
    main()
