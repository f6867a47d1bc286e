"""An independent reader of the generator's finance export (``mandats_<exercice>.csv``).

Why it exists: a test that reconciles the published payments with the export must not read the
export with the parser under test (``parsing.mandats``): a wrong amount parse (thousands
separator, sign, decimal comma) would shift both sides of the comparison alike and the test
would still pass. This reader knows only the generator's plain layout (cp1252, ``;``, the 8
columns of the reporting kit, amounts as ``-14 216,00``) and asserts it, so it never guesses.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

HEADER = ["Exercice", "N° mandat", "Date d'émission", "N° convention", "Tiers", "SIRET",
          "Nature", "Montant"]


def read_mandats(path: Path) -> list[dict]:
    """Every line of the export, its amount in cents (an int: no Decimal parse shared with the
    pipeline)."""
    with open(path, encoding="cp1252", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    assert rows[0] == HEADER, rows[0]
    out = []
    for r in rows[1:]:
        amount = r[7].replace("\u00a0", "").replace(" ", "").replace(",", ".")
        assert re.fullmatch(r"-?\d+\.\d{2}", amount), r[7]
        d = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", r[2].strip())
        out.append({
            "exercice": int(r[0]),
            "num": r[1],
            "date": date(int(d[3]), int(d[2]), int(d[1])) if d else None,
            "convention": r[3],
            "tiers": r[4],
            "siret": r[5],
            "nature": r[6],
            "cents": int(amount.replace(".", "")),
        })
    return out


def total_cents(path: Path, convention: str | None = None) -> int:
    """The export's total (or one convention's), in cents."""
    return sum(m["cents"] for m in read_mandats(path)
               if convention is None or m["convention"] == convention)
