"""Writes the finance export ``finances/mandats_<exercice>.csv``.

As the accounting software writes it: ``;``-separated, Windows-1252, one header
line, CRLF line ends, French amounts (``12 345,67``; thousands separated by a
no-break space on most lines, a plain space on some), dates ``JJ/MM/AAAA``.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from .plan import Plan

HEADER = [
    "Exercice",
    "N° mandat",
    "Date d'émission",
    "N° convention",
    "Tiers",
    "SIRET",
    "Nature",
    "Montant",
]
NBSP = "\u00a0"


def fr_amount(cents: int, sep: str = NBSP) -> str:
    sign = "-" if cents < 0 else ""
    euros, c = divmod(abs(cents), 100)
    s = f"{euros:,}".replace(",", sep)
    return f"{sign}{s},{c:02d}"


def write_mandats(path: Path, plan: Plan) -> None:
    rng = random.Random(f"csv-{plan.exercice}-{plan.seed}")
    ops = {c.num: c.operator for c in plan.conventions}
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(HEADER)
    for m in plan.mandates:
        op = ops[m.convention]
        sep = NBSP if rng.random() < 0.85 else " "
        d = m.date_emission
        w.writerow(
            [
                plan.exercice,
                m.num,
                f"{d.day:02d}/{d.month:02d}/{d.year:04d}",
                m.convention,
                op.tiers,
                op.siret,
                m.nature,
                fr_amount(m.cents, sep),
            ]
        )
    path.write_bytes(buf.getvalue().encode("cp1252"))
