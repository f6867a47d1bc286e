"""What a parse worker process loads: its initializer, and the task it runs (``parse_batch``).

Why a module of its own: the fork server imports this module once (through :mod:`.preload`) and
every worker forked from it starts with it loaded. A worker unpickles its initializer and
its task by module and name: if either lived in the loader, each worker would import the loader
and DuckDB before parsing anything (~0.15 s of CPU per worker, measured). Nothing here, and
nothing it imports, loads DuckDB, Dagster or pandas (nor numpy, in the fork server).
"""

from __future__ import annotations

import os
import threading
import time

from .batch import parse_batch
from .refusal import refuse

__all__ = ["init_worker", "parse_batch"]


def init_worker(loader: int | None = None) -> None:
    """Parse workers run without numpy and pandas (the pool's initializer; ``loader``: the pid of
    the process that started the pool, see :func:`_leave_with_the_loader`).

    The parsers build Arrow arrays from plain Python values only. On its first ``pa.array`` of
    Python objects pyarrow tries, once per process, to import pandas (to recognise pandas
    objects): ~0.5 s of CPU per worker, or in the fork server before any worker can start; and
    it imports numpy as it is imported itself, which the fork server avoids (:mod:`.preload`).
    A worker refuses both for its whole life: pyarrow records that there are none, and code that
    would need them in a worker fails loudly with ImportError rather than getting pyarrow's
    numpy- and pandas-less conversions (a Series' missing values as NaN instead of nulls, for
    instance). Modules already imported (a server started without our preload) stay usable.
    """
    refuse("numpy", "pandas")
    if loader is not None:
        threading.Thread(target=_leave_with_the_loader, args=(loader, _started(loader)),
                         name="parse-watchdog", daemon=True).start()


GONE = "gone"


def _started(pid: int) -> str | None:
    """When ``pid`` started (Linux), so that another process given the same pid is not it;
    :data:`GONE` for no such process or a zombie (killed, not yet reaped); None when it cannot
    be told (no /proc, a transient error): never a reason to leave."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return GONE
    except (OSError, IndexError):
        return None
    return GONE if fields[0] == "Z" else fields[19]


def _leave_with_the_loader(loader: int, started: str | None, every_s: float = 0.5) -> None:
    """Exit once the process that started the pool is gone.

    A worker waits for its next batch on a queue whose both ends it holds itself, so the death of
    the loader (``kill -9`` of ``bilan run``, the out-of-memory killer) never wakes it; nor does
    the fork server leave, as long as a worker holds the descriptor it watches for that. The
    workers stayed, ~190 MB, for ever."""
    while True:
        time.sleep(every_s)
        try:
            os.kill(loader, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass
        now = _started(loader)
        if now == GONE or (None not in (now, started) and now != started):
            os._exit(1)
