"""Writes format-independent sheets to an .xlsx workbook with xlsxwriter.

Deterministic: in-memory packaging (xlsxwriter then stamps every zip member
1980-01-01) and fixed document properties (no wall-clock date).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import xlsxwriter

from .sheets import Sheet


def write_xlsx(path: Path, sheets: list[Sheet], created: datetime, author: str) -> None:
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "in_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties(
        {"title": "Bilan d'action PDI", "author": author, "company": author, "created": created}
    )
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    for name, rows in sheets:
        ws = wb.add_worksheet(name)
        width = max((len(r) for r in rows), default=1)
        ws.set_column(0, width - 1, 18)
        write_string, write_number, write_datetime = (
            ws.write_string,
            ws.write_number,
            ws.write_datetime,
        )
        for r, row in enumerate(rows):
            for ci, v in enumerate(row):
                if v is None:
                    continue
                t = type(v)
                if t is str:
                    if v:
                        write_string(r, ci, v)
                elif t is int or t is float:
                    write_number(r, ci, v)
                elif t is date:
                    write_datetime(r, ci, datetime(v.year, v.month, v.day), date_fmt)
                else:
                    raise TypeError(f"unsupported cell value {v!r}")
    wb.close()
