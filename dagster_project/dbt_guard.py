"""``bilan-dbt``: dbt, ending with the process that launched it.

Why this module exists: dagster-dbt runs ``dbt build`` as a subprocess. When ``bilan run`` (or a
Dagster run worker) is killed with ``kill -9`` or by the out-of-memory killer, nothing stops that
subprocess: it is re-parented and goes on writing ``bilan.duckdb``, while the writer lock its
launcher held went with the launcher. The next run then finds the file held by a process no lock
names, and fails once its retries are spent (found by a cold on-call review). This entry point is
dbt's own (``dbt.cli.main.cli``, same arguments, same exit code) plus a watchdog thread: as soon
as its parent is gone (it is re-parented), it ends at once, as a ``kill -9`` of dbt would;
DuckDB's write-ahead log makes the next opening consistent, and the next run rebuilds. The
resource points dagster-dbt at this script (:func:`dagster_project.resources.dbt_executable`).
"""

from __future__ import annotations

import os
import sys
import threading
import time

# exit status when the launcher is gone (128 + SIGKILL, as if killed with it)
ORPHANED = 137


def _end_with(parent: int, every_s: float) -> None:
    while True:
        time.sleep(every_s)
        if os.getppid() != parent:  # re-parented (to init or a subreaper): the launcher died
            sys.stderr.write("bilan-dbt: le processus qui a lancé dbt a disparu : dbt s'arrête\n")
            sys.stderr.flush()
            os._exit(ORPHANED)


def watch_parent(every_s: float = 0.5) -> threading.Thread:
    """Start the watchdog (a daemon thread) on this process's current parent."""
    th = threading.Thread(target=_end_with, args=(os.getppid(), every_s),
                          name="bilan-dbt-watchdog", daemon=True)
    th.start()
    return th


def main() -> None:
    watch_parent()
    from dbt.cli.main import cli

    sys.argv[0] = "dbt"
    sys.exit(cli())
