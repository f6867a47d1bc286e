"""The two nomenclatures the parser validates against, read from the dbt seeds.

Why this module exists: the parser must refuse an unknown ``code_thematique`` or exit
motif and resolve a motif written as its label to its code, using the very same
reference tables that dbt loads as seeds (``dbt/seeds/thematiques.csv`` and
``dbt/seeds/motifs_sortie.csv``), so there is a single source of truth. The tables
are tiny and read once per process (cached).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .normalize import normalize_label

SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt" / "seeds"

__all__ = [
    "SEEDS_DIR",
    "Thematique",
    "Nomenclature",
    "load_nomenclature",
]


@dataclass(frozen=True, slots=True)
class Thematique:
    code: str
    libelle: str
    nature: str  # accompagnement / partenariat / contractualisation
    code_type_action: str
    indicateurs_specifiques: tuple[str, ...]


@dataclass(frozen=True)
class Nomenclature:
    thematiques: dict[str, Thematique]  # code_thematique → Thematique
    motifs: dict[str, str]  # normalize_label(code or libelle) → code_motif
    _thematique_keys: dict[str, str]  # normalize_label(code or libelle) → code

    def thematique(self, text: object) -> Thematique | None:
        """The thematic written as its code (any case/punctuation) or its exact label."""
        if type(text) is not str:
            return None
        found = self.thematiques.get(text.strip().upper())
        if found is not None:
            return found
        code = self._thematique_keys.get(normalize_label(text))
        return None if code is None else self.thematiques[code]

    def code_motif(self, text: str) -> str | None:
        """Resolve an exit motif written as a code_motif or a libelle_motif (case/accents free)."""
        return self.motifs.get(normalize_label(text))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


@lru_cache(maxsize=4)
def load_nomenclature(seeds_dir: Path | None = None) -> Nomenclature:
    """Read thematiques.csv and motifs_sortie.csv (cached per directory)."""
    seeds = Path(seeds_dir) if seeds_dir is not None else SEEDS_DIR
    thematiques: dict[str, Thematique] = {}
    keys: dict[str, str] = {}
    for row in _read_csv(seeds / "thematiques.csv"):
        code = row["code_thematique"].strip()
        indicateurs = tuple(
            i.strip() for i in (row.get("indicateurs_specifiques") or "").split(";") if i.strip()
        )
        th = Thematique(
            code=code,
            libelle=row["libelle_thematique"].strip(),
            nature=row["nature"].strip(),
            code_type_action=row["code_type_action"].strip(),
            indicateurs_specifiques=indicateurs,
        )
        thematiques[code.upper()] = th
        keys.setdefault(normalize_label(code), code.upper())
        keys.setdefault(normalize_label(th.libelle), code.upper())
    motifs: dict[str, str] = {}
    for row in _read_csv(seeds / "motifs_sortie.csv"):
        code = row["code_motif"].strip()
        for key in (normalize_label(code), normalize_label(row["libelle_motif"])):
            previous = motifs.setdefault(key, code)
            if previous != code:
                raise ValueError(f"motifs_sortie.csv: libellé ambigu entre {previous} et {code}")
    return Nomenclature(thematiques=thematiques, motifs=motifs, _thematique_keys=keys)
