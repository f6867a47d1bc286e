"""Write ``tests/data/bilan_legacy.xls``: an operator workbook in Excel 97-2003 format (.xls).

Why a committed file: no maintained library of this project's environment writes .xls (pandas
dropped it; xlwt is unmaintained), yet operators with an old Excel still send it, and the
loader tolerates it. The workbook holds exactly what ``tests/test_reliability_ingestion.py``'s
``good_sheets(conv(7), ["L1", "L2", "L3"])`` holds; its test compares the two parses.
Regenerate (once, in a throwaway environment that has xlwt):

    python -m venv /tmp/xlwt && /tmp/xlwt/bin/pip install xlwt
    /tmp/xlwt/bin/python tests/data/make_legacy_xls.py SHEETS_JSON

where SHEETS_JSON is written by the project's environment:

    .venv/bin/python -c "import json, tests.test_reliability_ingestion as t; \
print(json.dumps(t.good_sheets(t.conv(7), ['L1', 'L2', 'L3']), default=str))" > /tmp/s.json
"""

import datetime as dt
import json
import re
import sys
from pathlib import Path

import xlwt

OUT = Path(__file__).resolve().parent / "bilan_legacy.xls"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def main(sheets_json: str) -> None:
    sheets = json.loads(Path(sheets_json).read_text(encoding="utf-8"))
    wb = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for name, rows in sheets.items():
        ws = wb.add_sheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, str) and DATE.fullmatch(v):
                    ws.write(r, c, dt.datetime.strptime(v, "%Y-%m-%d"), date_style)
                else:
                    ws.write(r, c, v)
    wb.save(str(OUT))


if __name__ == "__main__":
    main(sys.argv[1])
