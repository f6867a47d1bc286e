"""Reads the project's copies of the reference tables (``dbt/seeds/``).

The generator only reads the seeds shipped with the project, located relative
to the package, never the shared reference folder.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parents[1] / "dbt" / "seeds"


@dataclass(frozen=True)
class Thematique:
    code: str
    libelle: str
    domaine: str
    volet: str  # code_type_action: PRO / SOC / RU
    nature: str  # accompagnement / partenariat / contractualisation
    indicateurs: tuple[str, ...]


@dataclass(frozen=True)
class Motif:
    code: str
    libelle: str
    categorie: str
    sous_categorie: str


def _read(name: str) -> list[dict[str, str]]:
    with open(SEEDS_DIR / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def thematiques() -> tuple[Thematique, ...]:
    return tuple(
        Thematique(
            code=r["code_thematique"],
            libelle=r["libelle_thematique"],
            domaine=r["code_domaine"],
            volet=r["code_type_action"],
            nature=r["nature"],
            indicateurs=tuple(x for x in r["indicateurs_specifiques"].split(";") if x),
        )
        for r in _read("thematiques.csv")
    )


@cache
def motifs() -> tuple[Motif, ...]:
    return tuple(
        Motif(r["code_motif"], r["libelle_motif"], r["categorie"], r["sous_categorie"])
        for r in _read("motifs_sortie.csv")
    )


@cache
def synthese() -> dict[str, dict[str, int]]:
    """Published synthesis table of 2017: code_thematique -> figures (blank -> 0)."""
    out: dict[str, dict[str, int]] = {}
    for r in _read("bilan_publie_synthese.csv"):
        if r["exercice"] != "2017":
            continue
        out[r["code_thematique"]] = {
            k: int(v) if v else 0
            for k, v in r.items()
            if k not in ("exercice", "code_thematique", "thematique")
        }
    return out


@cache
def chiffres_cles() -> dict[tuple[str, str], int]:
    """Published key figures of 2017: (perimetre, indicateur) -> valeur."""
    return {
        (r["perimetre"], r["indicateur"]): int(r["valeur"])
        for r in _read("bilan_publie_chiffres_cles.csv")
        if r["exercice"] == "2017"
    }
