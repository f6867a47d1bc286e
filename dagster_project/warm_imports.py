"""Import a heavy module in a background thread, ahead of the code that needs it.

Why this module exists: some imports cost seconds of CPU on a run's critical path: pandas
(~0.5 s), which DuckDB's client imports at the loader's first Arrow scan, and Great Expectations
(~6 s), which the checks need right after ``dbt build``. Started while this process waits on
something else (the parse workers, dbt's subprocess), the import is done when it is needed.
Code about to use such a module calls :func:`wait` first, so two threads never import the same
modules at once. A failed background import is logged; the waiting code's own import then raises
where that code handles it. No Dagster import here (the GX suites module must stay light).
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading

_started: dict[str, threading.Thread] = {}


def start(*modules: str) -> threading.Thread | None:
    """Import ``modules`` in order in a daemon thread; None if the last one is already imported
    or already being imported."""
    key = modules[-1]
    if key in sys.modules or key in _started:
        return None

    def _import() -> None:
        try:
            for name in modules:
                importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - the code that needs it imports again
            logging.getLogger(__name__).warning(
                "background import of %s failed: %s: %s", name, type(exc).__name__, exc
            )

    thread = threading.Thread(target=_import, name=f"import-{key}", daemon=True)
    _started[key] = thread
    thread.start()
    return thread


def wait(module: str) -> None:
    """Wait for a background import of ``module`` started by :func:`start`, if any."""
    thread = _started.get(module)
    if thread is not None:
        thread.join()
