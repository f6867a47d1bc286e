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

The launcher names itself in :data:`PARENT_ENV` (its pid): a launcher killed before this script
even started is seen at once, and ``bilan-dbt`` run by hand (no such variable; ``nohup … &``, a
script that exits) is plain dbt, never stopped.

The dbt asset also asks it to run in the warehouse folder (:mod:`dagster_project.dbt_workdir`), so
that dbt's parse cache serves every warehouse.
"""

from __future__ import annotations

import os
import sys
import threading
import time

# exit status when the launcher is gone (128 + SIGKILL, as if killed with it)
ORPHANED = 137
# the pid of the process that launches dbt and whose death must end it (set by the dbt asset)
PARENT_ENV = "BILAN_DBT_PARENT"


def _orphaned() -> None:
    try:
        sys.stderr.write("bilan-dbt: le processus qui a lancé dbt a disparu : dbt s'arrête\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        # stderr is usually a pipe to the dead launcher (dagster-dbt reads dbt's output):
        # writing to it fails, and the exit must not depend on it (it did: dbt went on)
        pass
    finally:
        os._exit(ORPHANED)


def _end_with(parent: int, every_s: float) -> None:
    while True:
        if os.getppid() != parent:  # re-parented (to init or a subreaper): the launcher died
            _orphaned()
        time.sleep(every_s)


def watch_parent(every_s: float = 0.5) -> threading.Thread | None:
    """Start the watchdog (a daemon thread) on the launcher named by :data:`PARENT_ENV`; None
    (no watchdog) when no launcher is named."""
    try:
        parent = int(os.environ[PARENT_ENV])
    except (KeyError, ValueError):
        return None
    if os.getppid() != parent:  # the launcher died before this script started
        _orphaned()
    th = threading.Thread(target=_end_with, args=(parent, every_s),
                          name="bilan-dbt-watchdog", daemon=True)
    th.start()
    return th


def main() -> None:
    watch_parent()
    from dbt.cli.main import cli

    from dagster_project import dbt_workdir
    from dagster_project.process_exit import skip_final_collection

    dbt_workdir.enter()  # the dbt asset's build: in the warehouse folder, one parse cache

    sys.argv[0] = "dbt"
    try:
        code = cli()  # click exits by itself (SystemExit), with dbt's status
    finally:
        skip_final_collection()  # ~0.7 s of garbage collection at exit (process_exit.py)
    sys.exit(code)
