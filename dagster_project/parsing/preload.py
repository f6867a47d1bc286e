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
worker's own start runs code that is not ours (multiprocessing's, and whatever unpickling an
argument imports); :func:`.worker.init_worker` then refuses both for the worker's life. If
the task cannot be imported without them (a new import somewhere), the server says so on stderr
and imports it anyway: workers start warm, with numpy, rather than cold (the fork server
silently ignores a preload that fails).

Workers forked from this server do not re-run the parent's main module. multiprocessing does so in
every worker it starts (so that functions defined in ``__main__`` can be unpickled there): under the
``dagster`` console script (``dagster asset materialize``, ``dagster job execute``) that is
``dagster._cli``, ~0.7 s of imports per worker before its first batch (a parent started as
``python -m dagster`` or ``python -m pytest`` was spared already: multiprocessing skips a package's
``__main__`` module, not ``python -m some.module``). A parse worker's initializer and task are
unpickled by module name (:mod:`.worker`) and never need the parent's main; a function defined in
``__main__`` and submitted to this pool cannot be unpickled there any more (the worker dies:
BrokenProcessPool). The two stdlib functions that re-run it are replaced, in this server only, by
no-ops; ``tests/test_parsing_batch.py`` fails if a worker imports the parent's main again (a Python
version that re-runs it some other way).
"""

from __future__ import annotations

import sys
from multiprocessing import spawn

from .refusal import refusing


def _keep_main(_name_or_path: str) -> None:
    """A worker's start leaves the server's ``__main__`` as it is (see above)."""


spawn._fixup_main_from_name = spawn._fixup_main_from_path = _keep_main

try:
    with refusing("numpy", "pandas"):
        from . import worker  # noqa: F401  (the point of this module: loaded once, forked warm)
except ImportError as exc:
    print(f"parse workers: the parse task needs {exc.name}; imported with it", file=sys.stderr)
    from . import worker  # noqa: F401
