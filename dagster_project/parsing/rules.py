"""Which parse rules produced a workbook's rows: a digest of the parsers and their nomenclature.

The loader re-parses a workbook only when its bytes change. When the rules change (a tolerance
added, a row now refused, a new exit label in ``motifs_sortie.csv``), rows parsed under the old
rules would stay in the raw tables until the operator happened to send the file again: the
loader records this digest in the manifest of every workbook it parses and parses again, once,
every workbook recorded under another digest.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from .nomenclature import SEEDS_DIR

_HERE = Path(__file__).resolve().parent
# the nomenclature files load_nomenclature reads (exit labels and thematics decide verdicts)
_NOMENCLATURE = ("thematiques.csv", "motifs_sortie.csv")


@lru_cache(maxsize=1)
def rules_digest() -> str:
    """sha256 (16 hex) of this package's modules and of the nomenclature, read once a process."""
    h = hashlib.sha256()
    for path in sorted(_HERE.glob("*.py")):
        h.update(f"{path.name}\0".encode())
        h.update(path.read_bytes())
    for name in _NOMENCLATURE:
        h.update(f"{name}\0".encode())
        h.update((SEEDS_DIR / name).read_bytes())
    return "regles:" + h.hexdigest()[:16]
