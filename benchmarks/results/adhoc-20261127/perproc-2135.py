"""CPU per process of one command and the Python processes it starts (27 Nov, 21:35).

    python perproc-2135.py PYTHON benchmarks/ingest_only.py DROP DB --workers N

Reads user + system time of every new Python process in /proc every 10 ms while the command
runs; prints the command's own JSON "seconds", then pid, CPU seconds and command line per process.
"""

import json
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu() -> dict[int, tuple[int, str]]:
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline") as f:
                cmd = f.read().replace("\0", " ")[:80]
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        out[int(pid)] = (int(fields[11]) + int(fields[12]), cmd)
    return out


def main() -> None:
    before = tree_cpu()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
    seen: dict[int, tuple[int, str]] = {}
    while proc.poll() is None:
        for pid, (ticks, cmd) in tree_cpu().items():
            if pid not in before and "python" in cmd:
                seen[pid] = (ticks, cmd)
        time.sleep(0.01)
    print(json.loads(proc.stdout.read().decode())["seconds"])
    for pid, (ticks, cmd) in sorted(seen.items()):
        print(pid, ticks / TICK, cmd[-60:])


if __name__ == "__main__":
    main()
