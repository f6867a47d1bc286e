"""What a parse worker process loads: its initializer, and the task it runs (``parse_batch``).

Why a module of its own: the fork server imports this module once (``set_forkserver_preload``)
and every worker forked from it starts with it loaded. A worker unpickles its initializer and
its task by module and name: if either lived in the loader, each worker would import the loader
and DuckDB before parsing anything (~0.15 s of CPU per worker, measured). Nothing here, and
nothing it imports, loads DuckDB, Dagster or pandas.
"""

from __future__ import annotations

import sys

from .batch import parse_batch

__all__ = ["init_worker", "parse_batch"]


def init_worker() -> None:
    """Parse workers run without pandas (the pool's initializer).

    On its first ``pa.array`` of Python objects pyarrow tries, once per process, to import pandas
    (to recognise pandas objects): ~0.5 s of CPU per worker, or in the fork server before any
    worker can start. The parsers build arrays from plain Python values only. A worker refuses
    pandas for its whole life: pyarrow records that there is none, and code that would need
    pandas in a worker fails loudly with ImportError rather than getting pyarrow's pandas-less
    conversions (a Series' missing values as NaN instead of nulls, for instance).
    """
    if "pandas" in sys.modules:  # already imported (a server preloaded it): nothing to save
        return
    sys.meta_path.insert(0, _NoPandas)


class _NoPandas:
    """Import finder refusing pandas in parse workers (see :func:`init_worker`)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"{name} is not imported in parse workers")
        return None

