"""Parse a batch of workbooks into compact, columnar row blocks (Arrow) for the loader.

Why this module exists: at scale a drop holds millions of participant and CER rows. Shipping them
from parser processes to the loader as one Python dict per row costs most of the load time
(pickling, then ``pa.Table.from_pylist`` in the single loader process) and gigabytes of memory
(SCALE=100: ~4 M dicts). Here each batch of workbooks is parsed with
:func:`parse_workbook_compact` (same rules as :func:`parse_workbook`, rows as tuples of their
varying fields) and its rows are turned into one Arrow table per raw table, in the worker: one
transposition of the tuples per column, the per-sheet constants (exercice, convention, sheet)
repeated per file. The per-file result keeps everything else (counts, action record,
rejections) with empty row lists. Nothing here imports DuckDB or Dagster.

Arrow tables carry the row columns of :data:`PARTICIPANT_COLUMNS` / :data:`CER_COLUMNS` plus
``_file``: the index of the row's workbook in the batch.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from .models import (
    CER_COLUMNS,
    CER_ROW_FIELDS,
    PARTICIPANT_COLUMNS,
    PARTICIPANT_ROW_FIELDS,
    SHEET_CONSTANTS,
    CompactWorkbook,
    Rejet,
)
from .workbook import parse_workbook_compact

__all__ = ["ParsedWorkbook", "ROW_SCHEMAS", "parse_batch"]

FILE_COLUMN = "_file"

ROW_SCHEMAS: dict[str, pa.Schema] = {
    "raw_participants": pa.schema(
        [
            ("exercice", pa.int32()),
            ("num_convention", pa.string()),
            ("identifiant", pa.string()),
            ("date_entree", pa.date32()),
            ("date_sortie", pa.date32()),
            ("motif_sortie_brut", pa.string()),
            ("code_motif", pa.string()),
            ("mise_en_parcours_en_cours", pa.bool_()),
            ("source_sheet", pa.string()),
            ("source_row", pa.int32()),
            (FILE_COLUMN, pa.int32()),
        ]
    ),
    "raw_cer": pa.schema(
        [
            ("exercice", pa.int32()),
            ("num_convention", pa.string()),
            ("identifiant", pa.string()),
            ("date_signature", pa.date32()),
            ("accompagnement_social", pa.bool_()),
            ("source_sheet", pa.string()),
            ("source_row", pa.int32()),
            (FILE_COLUMN, pa.int32()),
        ]
    ),
}
_COLUMNS = {"raw_participants": PARTICIPANT_COLUMNS, "raw_cer": CER_COLUMNS}
assert all(tuple(ROW_SCHEMAS[t].names[:-1]) == cols for t, cols in _COLUMNS.items()), (
    "ROW_SCHEMAS out of step with models.*_COLUMNS"
)


@dataclass(slots=True)
class ParsedWorkbook:
    """A parsed workbook whose participant/CER rows went to the batch's Arrow tables."""

    num_convention: str | None
    action: dict | None
    rejets: list[Rejet]
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    file_rejected: bool
    n_participants: int = 0
    n_cer: int = 0
    detail: str | None = None
    participants: tuple = field(default=())  # always empty: rows are in the Arrow tables
    cer: tuple = field(default=())


def _light(res: CompactWorkbook) -> ParsedWorkbook:
    return ParsedWorkbook(
        num_convention=res.num_convention,
        action=res.action,
        rejets=res.rejets,
        rows_read=res.rows_read,
        rows_loaded=res.rows_loaded,
        rows_rejected=res.rows_rejected,
        file_rejected=res.file_rejected,
        n_participants=len(res.participants),
        n_cer=len(res.cer),
        detail=res.detail,
    )


_ROW_FIELDS = {"raw_participants": PARTICIPANT_ROW_FIELDS, "raw_cer": CER_ROW_FIELDS}
_CONSTANTS = (*SHEET_CONSTANTS, FILE_COLUMN)  # exercice, num_convention, source_sheet, _file
assert all(
    set(ROW_SCHEMAS[t].names) == {*fields, *_CONSTANTS} for t, fields in _ROW_FIELDS.items()
), "ROW_SCHEMAS out of step with models.*_ROW_FIELDS"


class _Block:
    """The rows of one raw table for a batch: the row tuples, and each sheet's constants once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows: list[tuple] = []
        self.const: dict[str, list] = {c: [] for c in _CONSTANTS}

    def add(
        self, rows: list[tuple], exercice: int, num: str | None, sheet: str | None, file: int
    ) -> None:
        if not rows:
            return
        n = len(rows)
        self.rows.extend(rows)
        for col, value in zip(_CONSTANTS, (exercice, num, sheet, file), strict=True):
            self.const[col].extend([value] * n)

    def table(self) -> pa.Table:
        schema = ROW_SCHEMAS[self.name]
        fields = _ROW_FIELDS[self.name]
        # one C-level transposition of the tuples (zip), then one typed Arrow array per column
        columns = (
            dict(zip(fields, zip(*self.rows, strict=True), strict=True))
            if self.rows
            else {f: () for f in fields}
        )
        columns.update(self.const)
        return pa.Table.from_arrays(
            [pa.array(columns[f.name], type=f.type) for f in schema], schema=schema
        )


def parse_batch(
    paths: Sequence[str | Path], exercice: int
) -> tuple[list[ParsedWorkbook], dict[str, pa.Table]]:
    """Parse ``paths`` in order: per-file results without rows, and the rows as Arrow tables."""
    results: list[ParsedWorkbook] = []
    blocks = {name: _Block(name) for name in ROW_SCHEMAS}
    part, cer = blocks["raw_participants"], blocks["raw_cer"]
    # The batch's rows are hundreds of thousands of live tuples: the cyclic garbage collector
    # would re-scan them again and again (a third of the batch time) for cycles they cannot hold.
    enabled = gc.isenabled()
    gc.disable()
    try:
        for i, p in enumerate(paths):
            res = parse_workbook_compact(p, exercice=exercice)
            part.add(res.participants, exercice, res.num_convention, res.participants_sheet, i)
            cer.add(res.cer, exercice, res.num_convention, res.cer_sheet, i)
            results.append(_light(res))
        tables = {name: b.table() for name, b in blocks.items()}
    finally:
        if enabled:
            gc.enable()
    return results, tables
