"""Plain data returned by the parsers.

Why this module exists: the parsers are pure functions; the loader (dagster_project
/ingestion) turns their results into raw-table rows, manifest counters and ``rejets``
rows. These dataclasses are that contract. Row dicts carry exactly the columns of the
raw tables described in docs/architecture.md, minus the lineage columns the loader
adds (``source_file``, ``file_sha256``, ``loaded_at``, ``run_id``), plus
``source_sheet`` and ``source_row``.

Counting invariant, always true: ``rows_read == rows_loaded + rows_rejected``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "Rejet",
    "WorkbookResult",
    "CompactWorkbook",
    "MandatsResult",
    "ACTION_COLUMNS",
    "PARTICIPANT_COLUMNS",
    "CER_COLUMNS",
    "MANDAT_COLUMNS",
    "PARTICIPANT_ROW_FIELDS",
    "CER_ROW_FIELDS",
    "SHEET_CONSTANTS",
]

ACTION_COLUMNS = (
    "exercice",
    "num_convention",
    "operateur",
    "siret",
    "intitule",
    "code_thematique",
    "date_debut",
    "date_fin",
    "etp",
    "nb_referents",
    "accueils_individuels",
    "problemes_mobilite_resolus",
    "lieux_acces_multimedia",
    "certifications_delivrees",
    "source_sheet",
    "source_row",
)
PARTICIPANT_COLUMNS = (
    "exercice",
    "num_convention",
    "identifiant",
    "date_entree",
    "date_sortie",
    "motif_sortie_brut",
    "code_motif",
    "mise_en_parcours_en_cours",
    "source_sheet",
    "source_row",
)
CER_COLUMNS = (
    "exercice",
    "num_convention",
    "identifiant",
    "date_signature",
    "accompagnement_social",
    "source_sheet",
    "source_row",
)
# What varies from row to row, in the order of the compact row tuples (the parsers build them in
# this order); the other columns are the same for every row of a sheet.
SHEET_CONSTANTS = ("exercice", "num_convention", "source_sheet")
PARTICIPANT_ROW_FIELDS = tuple(c for c in PARTICIPANT_COLUMNS if c not in SHEET_CONSTANTS)
CER_ROW_FIELDS = tuple(c for c in CER_COLUMNS if c not in SHEET_CONSTANTS)
MANDAT_COLUMNS = (
    "exercice",
    "num_mandat",
    "date_emission",
    "num_convention",
    "tiers",
    "siret",
    "nature",
    "montant",
    "source_sheet",
    "source_row",
)


@dataclass(slots=True)
class Rejet:
    """One refusal. ``row_number`` is None when the whole file is refused.

    ``value`` never holds a participant identifier in clear (it is replaced by
    ``sha256:<12 hex>``) and ``reason`` never quotes cell values. For a refused payment line,
    ``montant``, ``num_mandat`` and ``num_convention`` are its amount, mandate number and
    (well-formed, canonical) convention when they could be read (what the bilan does not count,
    for which convention, and whether that mandate is counted elsewhere), else None.
    """

    sheet: str | None
    row_number: int | None
    column_name: str | None
    value: str | None
    reason: str
    montant: Decimal | None = None
    num_mandat: str | None = None
    num_convention: str | None = None


@dataclass(slots=True)
class WorkbookResult:
    num_convention: str | None
    action: dict | None
    participants: list[dict]
    cer: list[dict]
    rejets: list[Rejet]
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    file_rejected: bool
    # what the file's record says of a loaded workbook (sheets it holds but does not use)
    detail: str | None = None


@dataclass(slots=True)
class CompactWorkbook:
    """A :class:`WorkbookResult` whose participant and CER rows are tuples of their varying
    fields (:data:`PARTICIPANT_ROW_FIELDS`, :data:`CER_ROW_FIELDS`) plus the sheet they came from.

    The loader's fast path: at scale, one dict per row (then transposed into columns) costs more
    than the parsing rules themselves. :meth:`expand` gives the plain :class:`WorkbookResult`.
    """

    exercice: int
    num_convention: str | None
    action: dict | None
    participants_sheet: str | None
    participants: list[tuple]
    cer_sheet: str | None
    cer: list[tuple]
    rejets: list[Rejet]
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    file_rejected: bool
    detail: str | None = None  # as WorkbookResult.detail

    def expand(self) -> WorkbookResult:
        const = {"exercice": self.exercice, "num_convention": self.num_convention}

        def dicts(rows: list[tuple], fields: tuple[str, ...], sheet: str | None) -> list[dict]:
            return [
                {**const, **dict(zip(fields, r, strict=True)), "source_sheet": sheet} for r in rows
            ]

        participants = dicts(self.participants, PARTICIPANT_ROW_FIELDS, self.participants_sheet)
        cer = dicts(self.cer, CER_ROW_FIELDS, self.cer_sheet)
        return WorkbookResult(
            num_convention=self.num_convention,
            action=self.action,
            participants=[{c: r[c] for c in PARTICIPANT_COLUMNS} for r in participants],
            cer=[{c: r[c] for c in CER_COLUMNS} for r in cer],
            rejets=self.rejets,
            rows_read=self.rows_read,
            rows_loaded=self.rows_loaded,
            rows_rejected=self.rows_rejected,
            file_rejected=self.file_rejected,
            detail=self.detail,
        )


@dataclass(slots=True)
class MandatsResult:
    rows: list[dict]
    rejets: list[Rejet]
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    file_rejected: bool = field(default=False)
