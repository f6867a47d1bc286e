"""Refusing imports in a parse worker process: numpy and pandas are never loaded there.

Why a module of its own, free of any import worth the name: the parse workers' fork server
installs the refusal *before* it imports the parse task (:mod:`.preload`), so this module must
not pull in pyarrow (which imports numpy as soon as it is itself imported).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


class Refusal:
    """Import finder refusing the top-level packages ``names`` (and their submodules)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = frozenset(names)

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"{name} is not imported in parse workers", name=name)
        return None


def refuse(*names: str) -> Refusal | None:
    """Refuse ``names`` in this process from now on (those not already imported)."""
    todo = tuple(n for n in names if n not in sys.modules)
    if not todo:
        return None
    finder = Refusal(todo)
    sys.meta_path.insert(0, finder)
    return finder


@contextlib.contextmanager
def refusing(*names: str) -> Iterator[None]:
    """Refuse ``names`` inside the block only."""
    finder = refuse(*names)
    try:
        yield
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)
