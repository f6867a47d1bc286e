"""Turns a convention and its layout into format-independent sheets.

A sheet is a name and a list of rows; a row is a list of cell values:
``None`` (empty), ``str``, ``int``, ``float`` or ``datetime.date``. The xlsx and
ods writers only translate these values into cells.
"""

from __future__ import annotations

import random
from datetime import date

from .layout import Layout
from .names import COMMUNES, strip_accents
from .plan import Convention
from .reference import motifs

Sheet = tuple[str, list[list]]

_LIBELLES = {m.code: m.libelle for m in motifs()}
_REFERENTS = [
    "Mme Martin",
    "M. Bernard",
    "Mme Petit",
    "M. Durand",
    "Mme Leroy",
    "M. Moreau",
    "Mme Fournier",
    "M. Girard",
    "Mme Lambert",
    "M. Bonnet",
]


def _fr_date(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


def _spaced_siret(s: str) -> str:
    return f"{s[:3]} {s[3:6]} {s[6:9]} {s[9:]}"


def _etp_value(quarters: int, as_text: bool):
    if quarters % 4 == 0:
        v = quarters // 4
        return str(v) if as_text else v
    v = quarters / 4
    return f"{v:g}".replace(".", ",") if as_text else v


def _motif_label(code: str, style: str) -> str:
    lib = _LIBELLES[code]
    if style == "upper":
        return lib.upper()
    if style == "lower":
        return lib.lower()
    if style == "noaccent":
        return strip_accents(lib)
    return lib


def action_sheet(c: Convention, lay: Layout) -> list[list]:
    dv = _fr_date if lay.dates_as_text else (lambda d: d)
    values = {
        "num": c.num,
        "operateur": c.operator.name,
        "siret": _spaced_siret(c.operator.siret) if lay.siret_spaced else c.operator.siret,
        "intitule": c.intitule,
        "code": c.them.code,
        "debut": dv(c.debut),
        "fin": dv(c.fin),
        "etp": _etp_value(c.etp_quarters, lay.etp_as_text),
        "referents": c.nb_referents,
        **c.indicateurs,
    }
    pad = [None] * lay.action_col
    rows: list[list] = [[t] if t else [] for t in lay.action_titles]
    if lay.action_titles and lay.action_blank_rows:
        rows.append([])
    for k in lay.action_order:
        if k == "etp" and lay.action_blank_rows:
            rows += [[], pad + ["Moyens et résultats"]]
        rows.append(pad + [lay.action_labels[k], values[k]])
    return rows


def _table(
    titles: list[str], header: list[str], body: list[list], lay: Layout, trailing_count: int
) -> list[list]:
    off = [None] * lay.first_col_offset
    rows: list[list] = [[t] if t else [] for t in titles]
    rows.append(off + header)
    every = lay.blank_rows_every
    blanks = 0
    for i, r in enumerate(body, start=1):
        rows.append(off + r)
        if every and i % every == 0 and blanks < 3 and i < len(body):
            rows.append([])
            blanks += 1
    if lay.trailing == "total":
        rows.append(off + ["Total", trailing_count])
    elif lay.trailing == "note":
        rows += [[], off + [f"Nombre de lignes : {trailing_count} – données arrêtées au bilan"]]
    return rows


def participants_sheet(c: Convention, lay: Layout) -> list[list]:
    rng = random.Random(lay.extras_seed)
    dv = _fr_date if lay.dates_as_text else (lambda d: d)
    cols = lay.part_columns
    non = lay.non_style or None
    body = []
    share, mstyle = lay.motif_label_share, lay.motif_label_style
    for pid, d_in, d_out, code, oui in c.participants:
        vals = {
            "id": pid,
            "entree": dv(d_in),
            "sortie": dv(d_out) if d_out else None,
            "motif": (_motif_label(code, mstyle) if share and rng.random() < share else code)
            if code
            else None,
            "oui": lay.oui_style if oui else non,
        }
        row = []
        for k in cols:
            if k in vals:
                row.append(vals[k])
            elif k == "sexe":
                row.append("F" if rng.random() < 0.55 else "H")
            elif k == "commune":
                row.append(rng.choice(COMMUNES))
            else:
                row.append("RAS" if rng.random() < 0.05 else None)
        body.append(row)
    header = [lay.part_labels[k] for k in cols]
    return _table(lay.part_titles, header, body, lay, len(body))


def cer_sheet(c: Convention, lay: Layout) -> list[list]:
    rng = random.Random(lay.extras_seed + 1)
    dv = _fr_date if lay.dates_as_text else (lambda d: d)
    non = lay.non_style or "Non"
    referents = _REFERENTS[: max(1, min(len(_REFERENTS), c.nb_referents or 1))]
    body = []
    for pid, d, soc in c.cer:
        vals = {"id": pid, "date": dv(d), "social": lay.oui_style if soc else non}
        body.append(
            [
                vals[k]
                if k in vals
                else rng.choice(referents)
                if k == "referent"
                else rng.choice(COMMUNES)
                for k in lay.cer_columns
            ]
        )
    header = [lay.cer_labels[k] for k in lay.cer_columns]
    return _table(lay.cer_titles, header, body, lay, len(body))


def workbook_sheets(c: Convention, lay: Layout) -> list[Sheet]:
    build = {"action": action_sheet, "participants": participants_sheet, "cer": cer_sheet}
    return [(name, build[role](c, lay)) for role, name in lay.sheets]
