"""Ending ``bilan run`` and ``bilan-dbt`` without Python's last full garbage collection.

Why: as it exits, CPython collects every object it still tracks, to run the finalizers of those
left in reference cycles. ``bilan run`` ends with Dagster, Great Expectations, pandas and pyarrow
loaded, ``bilan-dbt`` with dbt's manifest and adapter: a collection over millions of objects for
memory the system takes back anyway. Measured on this project's 2-core VM (SCALE=10 drop,
``py-spy --native``: ``gc_collect_main`` after ``main`` returned), from ``main``'s end to the
process's: 1.9–2.0 s → 0.1 s for ``bilan run``; from dbt's last line to its exit, 0.75–0.94 s →
0.20–0.25 s (``benchmarks/README.md``, "What changed").

:func:`skip_final_collection` moves every object to the permanent generation (``gc.freeze``),
which no collection visits. What still runs at exit: ``atexit`` handlers (logging's flush,
multiprocessing's, ``weakref.finalize`` ones), the finalizers of objects freed by reference
counting when the modules are cleared, and the flush of ``sys.stdout``/``sys.stderr``. What no
longer runs: the finalizer (``__del__``, a C destructor) of any object in a reference cycle,
whether garbage already or freed later while the modules are cleared (a module global, a class
attribute); CPython does not promise those at exit either. Nothing here relies on them: the
job's DuckDB connections, the event log's SQLite connections and its files are closed
explicitly before ``main`` returns, and dbt-duckdb closes its database when dbt releases its
last handle (``tests/test_process_exit.py``: a dbt-duckdb build through ``bilan-dbt`` and a real
run leave no write-ahead log behind).

Only for a process's very end: called anywhere else, every cycle alive at that moment, garbage
or not, would never be collected. Runs launched by the daemon, the UI or a sensor execute in
Dagster's own processes (``dagster api execute_run``), which keep their collection; their dbt
is ``bilan-dbt``, frozen like any other.
"""

from __future__ import annotations

import gc


def skip_final_collection() -> None:
    """The process is about to exit: leave its objects to the system, not to the collector."""
    gc.freeze()
