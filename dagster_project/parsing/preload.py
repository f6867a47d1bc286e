"""What the parse workers' fork server imports: the parsers, without numpy.

Why a module of its own: every batch waits for this server to start (the workers are forked from
it), and a third of its start was numpy, which pyarrow imports as soon as it is imported itself
if numpy is installed (~0.1 s of CPU; the first batch ~0.07 s later). The parsers build Arrow
arrays from plain Python values and never need it: the server imports them with numpy and pandas
refused, and pyarrow then runs without them. The refusal is lifted once the parsers are loaded,
because a worker's own start runs code that is not ours (multiprocessing re-imports the parent's
main module in each worker); :func:`.worker.init_worker` then refuses both for the worker's life.
"""

from __future__ import annotations

from .refusal import refusing

with refusing("numpy", "pandas"):
    from . import worker  # noqa: F401  (the point of this module: loaded once, forked warm)
