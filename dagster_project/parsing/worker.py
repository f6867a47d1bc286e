"""What a parse worker process loads: its initializer, and the task it runs (``parse_batch``).

Why a module of its own: the fork server imports this module once (through :mod:`.preload`) and
every worker forked from it starts with it loaded. A worker unpickles its initializer and
its task by module and name: if either lived in the loader, each worker would import the loader
and DuckDB before parsing anything (~0.15 s of CPU per worker, measured). Nothing here, and
nothing it imports, loads DuckDB, Dagster or pandas (nor numpy, in the fork server).
"""

from __future__ import annotations

from .batch import parse_batch
from .refusal import refuse

__all__ = ["init_worker", "parse_batch"]


def init_worker() -> None:
    """Parse workers run without numpy and pandas (the pool's initializer).

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
