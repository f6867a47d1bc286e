"""Pure-Python parsing layer: operator workbooks and the finance export → typed rows.

Why this package exists: it isolates every rule about reading the raw inputs
(/work/shared/spec/raw-inputs.md) from the loading machinery, so that the rules can be
tested without Dagster or DuckDB. Nothing here imports either.
"""

from .mandats import parse_mandats
from .models import (
    ACTION_COLUMNS,
    CER_COLUMNS,
    MANDAT_COLUMNS,
    PARTICIPANT_COLUMNS,
    MandatsResult,
    Rejet,
    WorkbookResult,
)
from .nomenclature import Nomenclature, Thematique, load_nomenclature
from .normalize import (
    ValeurInvalide,
    convention_in_name,
    hash_identifiant,
    normalize_label,
    parse_date,
    parse_french_amount,
    parse_french_decimal,
    parse_identifiant,
    parse_num_convention,
    parse_oui_non,
    parse_siret,
    parse_whole_number,
)
from .workbook import parse_workbook

__all__ = [
    "parse_workbook",
    "parse_mandats",
    "convention_in_name",
    "Rejet",
    "WorkbookResult",
    "MandatsResult",
    "ACTION_COLUMNS",
    "PARTICIPANT_COLUMNS",
    "CER_COLUMNS",
    "MANDAT_COLUMNS",
    "Nomenclature",
    "Thematique",
    "load_nomenclature",
    "ValeurInvalide",
    "hash_identifiant",
    "normalize_label",
    "parse_date",
    "parse_french_amount",
    "parse_french_decimal",
    "parse_identifiant",
    "parse_num_convention",
    "parse_oui_non",
    "parse_siret",
    "parse_whole_number",
]
