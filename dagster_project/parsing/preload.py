"""What the parse workers' fork server imports: the parse task, with pyarrow but not numpy.

Why a module of its own: every batch waits for this server to start (the workers are forked from
it), and a third of its start was numpy, which pyarrow imports as soon as it is imported itself
if numpy is installed (~0.1 s of CPU; the first batch ~0.07 s later). The parsers build Arrow
arrays from plain Python values and never need it: the server imports the parse task (the
``parsing`` package itself imports neither pyarrow nor numpy) with numpy and pandas refused.

pyarrow then runs without numpy for good, in the server and in every process forked from it
(``to_numpy()`` raises, numpy arrays are not recognised): this server serves the parse workers
only. Nothing else here uses the ``forkserver`` start method, and only the loader names this
module, as the server's preload. The refusal itself is lifted once the task is loaded, because a
worker's own start runs code that is not ours (multiprocessing re-imports the parent's main
module in each worker); :func:`.worker.init_worker` then refuses both for the worker's life. If
the task cannot be imported without them (a new import somewhere), the server says so on stderr
and imports it anyway: workers start warm, with numpy, rather than cold (the fork server
silently ignores a preload that fails).
"""

from __future__ import annotations

import sys

from .refusal import refusing

try:
    with refusing("numpy", "pandas"):
        from . import worker  # noqa: F401  (the point of this module: loaded once, forked warm)
except ImportError as exc:
    print(f"parse workers: the parse task needs {exc.name}; imported with it", file=sys.stderr)
    from . import worker  # noqa: F401
