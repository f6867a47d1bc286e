"""Presentation variety of each workbook, decided deterministically per convention.

File format and name, sheet names and order, label spellings, title and blank
rows, column order and extra columns, how dates / ETP / SIRET / motifs / Oui-Non
are written. Every variant stays within the raw-inputs contract.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field

from .names import safe_filename, strip_accents
from .plan import Convention

ODS_SHARE = 0.2

ACTION_LABELS = {
    "num": "N° convention",
    "operateur": "Opérateur",
    "siret": "SIRET",
    "intitule": "Intitulé de l'action",
    "code": "Code thématique",
    "debut": "Date de début",
    "fin": "Date de fin",
    "etp": "ETP mobilisés",
    "referents": "Nombre de référents",
    "accueils_individuels": "Accueils individuels",
    "problemes_mobilite_resolus": "Problèmes de mobilité résolus",
    "lieux_acces_multimedia": "Lieux d'accès multimédia coordonnés",
    "certifications_delivrees": "Certifications et attestations délivrées",
}

PART_LABELS = {
    "id": "Identifiant",
    "entree": "Date d'entrée",
    "sortie": "Date de sortie",
    "motif": "Motif de sortie",
    "oui": "Mise en parcours en cours",
    "sexe": "Sexe",
    "commune": "Commune",
    "obs": "Observations",
}

CER_LABELS = {
    "id": "Identifiant",
    "date": "Date de signature",
    "social": "Accompagnement social",
    "referent": "Référent",
    "commune": "Commune",
}


def label_variant(rng: random.Random, label: str, plain_share: float = 0.55) -> str:
    """The label, or a spelling differing only by case, accents, punctuation
    (apostrophe, trailing colon) and surrounding spaces."""
    if rng.random() < plain_share:
        return label
    s = label
    if rng.random() < 0.35:
        s = strip_accents(s)
    if "'" in s and rng.random() < 0.4:
        s = s.replace("'", rng.choice((" ", "’")))
    u = rng.random()
    if u < 0.3:
        s = s.upper()
    elif u < 0.45:
        s = s.lower()
    elif u < 0.55:
        s = s[:1] + s[1:].lower()
    if rng.random() < 0.35:
        s += rng.choice((" :", ":", " : "))
    if rng.random() < 0.15:
        s = " " + s + " "
    return unicodedata.normalize("NFC", s)


def _sheet_name(rng: random.Random, name: str) -> str:
    return rng.choice((name, name, name, name.upper(), name.lower(), name.capitalize(), name + " "))


@dataclass
class Layout:
    fmt: str  # "xlsx" or "ods"
    filename: str
    sheets: list[tuple[str, str]]  # (role, sheet name) in workbook order
    action_col: int  # 0: labels in A, values in B; 1: B/C
    action_titles: list[str]
    action_order: list[str]
    action_labels: dict[str, str]
    action_blank_rows: bool
    dates_as_text: bool
    etp_as_text: bool
    siret_spaced: bool
    part_titles: list[str]
    part_columns: list[str]
    part_labels: dict[str, str]
    cer_titles: list[str]
    cer_columns: list[str]
    cer_labels: dict[str, str]
    blank_rows_every: int  # 0: none, else a blank row every N data rows (at most a few)
    trailing: str  # "", "total", "note"
    motif_label_share: float
    motif_label_style: str  # "exact", "upper", "lower", "noaccent"
    oui_style: str  # "Oui", "OUI", "oui"
    non_style: str  # "Non", "NON", "non", "" (blank)
    first_col_offset: int = 0  # data tables starting in column B
    extras_seed: int = 0
    sheet_roles: list[str] = field(default_factory=list)


def _filename(rng: random.Random, c: Convention, y: int, ext: str) -> str:
    op = c.operator.name
    tpl = rng.choice(
        (
            "Bilan PDI {y} - {op}",
            "bilan_action_{n:04d}",
            "{num} {op}",
            "BILAN {code} {op_up}",
            "Bilan d'action {y} – {intitule}",
            "{op} - bilan {y} définitif",
            "PDI{y}_{n}_{slug}",
            "Bilan_{y}_{num}",
            "{op} bilan {num} v2",
        )
    )
    slug = strip_accents(op).lower().replace(" ", "_").replace("'", "")[:30]
    name = tpl.format(
        y=y,
        op=op,
        n=c.numero,
        num=c.num,
        code=c.them.code,
        op_up=op.upper(),
        intitule=c.intitule[:50],
        slug=slug,
    )
    return safe_filename(name) + "." + ext


def choose_layout(c: Convention, y: int, seed: int) -> Layout:
    rng = random.Random(f"layout-{y}-{seed}-{c.num}")
    fmt = "ods" if rng.random() < ODS_SHARE else "xlsx"
    roles = ["action"]
    if c.them.nature == "accompagnement":
        roles.append("participants")
    if c.them.code == "RU":
        roles.append("cer")
    order = roles[:]
    if rng.random() < 0.3:
        rng.shuffle(order)
    base_names = {"action": "Action", "participants": "Participants", "cer": "CER"}
    sheets = [(r, _sheet_name(rng, base_names[r])) for r in order]

    keys = ["num", "operateur", "siret", "intitule", "code", "debut", "fin", "etp"]
    if c.nb_referents is not None:
        keys.append("referents")
    keys += list(c.indicateurs)
    if rng.random() < 0.25:
        head, tail = keys[:5], keys[5:]
        rng.shuffle(head)
        keys = head + tail
    titles = rng.choice(
        (
            [f"BILAN D'ACTION PDI {y}"],
            [f"Bilan d'action PDI {y}", "Programme Départemental d'Insertion"],
            ["Département – Pôle Politiques d'Insertion", f"Bilan de l'action – exercice {y}", ""],
            [],
        )
    )
    part_cols = ["id", "entree", "sortie", "motif"]
    if c.them.volet == "PRO" or rng.random() < 0.6:
        part_cols.append("oui")
    if rng.random() < 0.4:
        part_cols.append("sexe")
    if rng.random() < 0.3:
        part_cols.append("commune")
    if rng.random() < 0.15:
        part_cols.append("obs")
    if rng.random() < 0.35:
        rng.shuffle(part_cols)
    cer_cols = ["id", "date", "social"]
    if rng.random() < 0.3:
        cer_cols.append("referent")
    if rng.random() < 0.2:
        cer_cols.append("commune")
    if rng.random() < 0.35:
        rng.shuffle(cer_cols)
    n_titles = rng.choice((0, 0, 1, 1, 2, 3))
    t_pool = [f"Liste des participants – {c.num}", c.operator.name, f"Exercice {y}", ""]
    return Layout(
        fmt=fmt,
        filename=_filename(rng, c, y, fmt),
        sheets=sheets,
        action_col=1 if rng.random() < 0.25 else 0,
        action_titles=titles,
        action_order=keys,
        action_labels={k: label_variant(rng, ACTION_LABELS[k]) for k in keys},
        action_blank_rows=rng.random() < 0.5,
        dates_as_text=rng.random() < 0.2,
        etp_as_text=rng.random() < 0.25,
        siret_spaced=rng.random() < 0.3,
        part_titles=t_pool[:n_titles],
        part_columns=part_cols,
        part_labels={k: label_variant(rng, PART_LABELS[k], 0.7) for k in part_cols},
        cer_titles=[f"Contrats d'engagements réciproques – {c.num}", c.operator.name][
            : min(2, n_titles)
        ],
        cer_columns=cer_cols,
        cer_labels={k: label_variant(rng, CER_LABELS[k], 0.7) for k in cer_cols},
        blank_rows_every=rng.choice((0, 0, 0, 37, 55, 80)),
        trailing=rng.choice(("", "", "total", "total", "note")),
        motif_label_share=rng.choice((0.0, 0.0, 0.1, 0.3, 1.0)),
        motif_label_style=rng.choice(("exact", "exact", "upper", "lower", "noaccent")),
        oui_style=rng.choice(("Oui", "Oui", "OUI", "oui")),
        non_style=rng.choice(("Non", "Non", "NON", "non", "")),
        first_col_offset=1 if rng.random() < 0.1 else 0,
        extras_seed=rng.randrange(1 << 30),
        sheet_roles=order,
    )
