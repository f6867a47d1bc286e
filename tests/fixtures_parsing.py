"""Helpers for the parsing tests: write small workbooks in .xlsx (xlsxwriter) and .ods (odfpy).

Cells: None → empty cell, str → text, bool → boolean, int/float → number,
datetime.date/datetime → a real date cell. Rows are lists starting at column A.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

FORMATS = ("xlsx", "ods")

ACTION_DEFAULTS = {
    "N° convention": "PDI-2017-0001",
    "Opérateur": "Association Tremplin",
    "SIRET": "123 456 789 00012",
    "Intitulé de l'action": "Accompagnement vers l'emploi",
    "Code thématique": "PRO-EMP-AME",
    "Date de début": dt.date(2017, 1, 1),
    "Date de fin": dt.date(2017, 12, 31),
    "ETP mobilisés": "2,5",
}

PARTICIPANT_HEADER = [
    "Identifiant",
    "Date d'entrée",
    "Date de sortie",
    "Motif de sortie",
    "Mise en parcours en cours",
]
CER_HEADER = ["Identifiant", "Date de signature", "Accompagnement social"]


def action_rows(
    overrides: dict | None = None, *, drop: tuple[str, ...] = (), title: bool = True
) -> list[list]:
    """An Action sheet: optional title rows then label | value rows."""
    values = dict(ACTION_DEFAULTS)
    values.update(overrides or {})
    rows: list[list] = []
    if title:
        rows += [["Bilan d'action PDI 2017"], []]
    for label, value in values.items():
        if label in drop:
            continue
        rows.append([label, value])
    return rows


def _write_xlsx(path: Path, sheets: dict[str, list[list]]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    date_fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, bool):
                    ws.write_boolean(r, c, v)
                elif isinstance(v, (dt.date, dt.datetime)):
                    if not isinstance(v, dt.datetime):
                        v = dt.datetime(v.year, v.month, v.day)
                    ws.write_datetime(r, c, v, date_fmt)
                elif isinstance(v, (int, float)):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, str(v))
    wb.close()


def _write_ods(path: Path, sheets: dict[str, list[list]]) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        table = Table(name=name)
        for row in rows:
            tr = TableRow()
            for v in row:
                if v is None:
                    tc = TableCell()
                elif isinstance(v, bool):
                    tc = TableCell(valuetype="boolean", booleanvalue="true" if v else "false")
                    tc.addElement(P(text="VRAI" if v else "FAUX"))
                elif isinstance(v, dt.datetime):
                    tc = TableCell(valuetype="date", datevalue=v.isoformat())
                    tc.addElement(P(text=v.strftime("%d/%m/%Y %H:%M")))
                elif isinstance(v, dt.date):
                    tc = TableCell(valuetype="date", datevalue=v.isoformat())
                    tc.addElement(P(text=v.strftime("%d/%m/%Y")))
                elif isinstance(v, (int, float)):
                    tc = TableCell(valuetype="float", value=repr(v))
                    tc.addElement(P(text=str(v)))
                else:
                    tc = TableCell(valuetype="string")
                    tc.addElement(P(text=str(v)))
                tr.addElement(tc)
            if not row:
                tr.addElement(TableCell())
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))


def write_workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    """Write ``sheets`` to ``path`` in the format given by its suffix (.xlsx or .ods)."""
    path = Path(path)
    if path.suffix == ".xlsx":
        _write_xlsx(path, sheets)
    elif path.suffix == ".ods":
        _write_ods(path, sheets)
    else:
        raise ValueError(path.suffix)
    return path


def write_both(directory: Path, stem: str, sheets: dict[str, list[list]]) -> list[Path]:
    """The same workbook as .xlsx and .ods."""
    return [write_workbook(Path(directory) / f"{stem}.{fmt}", sheets) for fmt in FORMATS]


def check_invariants(result, identifiers=()) -> None:
    """Counting conservation and no participant identifier in clear in any Rejet."""
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    assert result.rows_read >= 0 and result.rows_loaded >= 0 and result.rows_rejected >= 0
    if hasattr(result, "file_rejected") and result.file_rejected and hasattr(result, "action"):
        assert result.action is None and not result.participants and not result.cer
        assert result.rows_loaded == 0
        assert len(result.rejets) == 1 and result.rejets[0].row_number is None
    for rej in result.rejets:
        assert rej.reason
        for ident in identifiers:
            ident = str(ident)
            assert ident not in (rej.value or ""), (ident, rej)
            assert ident not in rej.reason, (ident, rej)
