"""Operator workbook (.xlsx / .ods) → typed rows and rejections.

Why this module exists: each operator sends one hand-filled "Bilan d'action PDI"
workbook per convention (contract: /work/shared/spec/raw-inputs.md, section 1). This
module reads it with python-calamine and applies the tolerance rules of the contract
(labels and sheet names matched through :func:`normalize_label`, labels/columns in any
order, title/blank/Total/note rows) and the rejection rules: a defect that makes the
whole report unusable rejects the file (one ``Rejet`` with ``row_number=None``), a
defect in one participant or CER row rejects that row only.

``parse_workbook`` never raises: any unexpected error becomes a whole-file rejection
"erreur inattendue: <ExceptionType>". It never puts a participant identifier in
clear in a ``Rejet`` (``sha256:<12 hex>`` instead) nor any cell value in a reason.

Row numbers are 1-based spreadsheet rows as Excel/LibreOffice show them:
``to_python(skip_empty_area=False)`` returns the grid from cell A1 (verified for both
formats, even when the used range starts lower/right), so row index ``i`` is row ``i+1``.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field, replace
from datetime import date as _DATE
from itertools import islice
from pathlib import Path

from python_calamine import CalamineWorkbook, PasswordError, SheetVisibleEnum

from .models import CompactWorkbook, Rejet, WorkbookResult
from .nomenclature import Nomenclature, Thematique, load_nomenclature
from .normalize import (
    OUI_NON_FAST,
    ValeurInvalide,
    canonical_identifiant,
    cell_to_text,
    hash_identifiant,
    is_blank,
    is_total_label,
    label_table,
    lookup_label,
    normalize_label,
    parse_date,
    parse_french_decimal,
    parse_identifiant,
    parse_num_convention,
    parse_oui_non,
    parse_siret,
    parse_whole_number,
)

__all__ = ["parse_workbook", "parse_workbook_compact"]

HEADER_SEARCH_ROWS = 10

# --------------------------------------------------------------------------- labels
SHEET_ACTION = "Action"
SHEET_PARTICIPANTS = "Participants"
SHEET_CER = "CER"
_SHEET_ALIASES = {
    SHEET_ACTION: ("action", "actions", "fiche action", "bilan action"),
    SHEET_PARTICIPANTS: (
        "participants",
        "participant",
        "liste des participants",
        "beneficiaires",
        "liste des beneficiaires",
    ),
    SHEET_CER: (
        "cer",
        "cers",
        "liste des cer",
        "contrats d engagement reciproque",
        "contrat d engagement reciproque",
    ),
}

# field → (label as shown in rejections, accepted spellings; all go through normalize_label)
_ACTION_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "num_convention": (
        "N° convention",
        (
            "N° convention",
            "N° de convention",
            "No convention",
            "No de convention",
            "Numéro convention",
            "Numéro de convention",
            "Num convention",
            "Convention",
        ),
    ),
    "operateur": ("Opérateur", ("Opérateur", "Nom de l'opérateur", "Nom opérateur", "Structure")),
    "siret": ("SIRET", ("SIRET", "N° SIRET", "N° de SIRET", "Numéro SIRET", "SIRET opérateur")),
    "intitule": (
        "Intitulé de l'action",
        ("Intitulé de l'action", "Intitulé", "Intitulé action", "Nom de l'action"),
    ),
    "code_thematique": (
        "Code thématique",
        ("Code thématique", "Thématique", "Code thematique PDI"),
    ),
    "date_debut": (
        "Date de début",
        ("Date de début", "Date début", "Début", "Date de debut d'action"),
    ),
    "date_fin": ("Date de fin", ("Date de fin", "Date fin", "Fin", "Date de fin d'action")),
    "etp": ("ETP mobilisés", ("ETP mobilisés", "ETP", "ETP mobilisé", "Nombre d'ETP mobilisés")),
    "nb_referents": (
        "Nombre de référents",
        (
            "Nombre de référents",
            "Nombre référents",
            "Nb référents",
            "Nb de référents",
            "Nombre de référents uniques",
        ),
    ),
    "accueils_individuels": (
        "Accueils individuels",
        ("Accueils individuels", "Nombre d'accueils individuels"),
    ),
    "problemes_mobilite_resolus": (
        "Problèmes de mobilité résolus",
        ("Problèmes de mobilité résolus", "Nombre de problèmes de mobilité résolus"),
    ),
    "lieux_acces_multimedia": (
        "Lieux d'accès multimédia coordonnés",
        (
            "Lieux d'accès multimédia coordonnés",
            "Lieux d'accès multimédia",
            "Nombre de lieux d'accès multimédia coordonnés",
        ),
    ),
    "certifications_delivrees": (
        "Certifications et attestations délivrées",
        (
            "Certifications et attestations délivrées",
            "Certifications délivrées",
            "Nombre de certifications et attestations délivrées",
        ),
    ),
}
_REQUIRED_ACTION = (
    "num_convention",
    "operateur",
    "siret",
    "intitule",
    "code_thematique",
    "date_debut",
    "date_fin",
    "etp",
)
_INDICATORS = (
    "accueils_individuels",
    "problemes_mobilite_resolus",
    "lieux_acces_multimedia",
    "certifications_delivrees",
)

_PARTICIPANT_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "identifiant": (
        "Identifiant",
        (
            "Identifiant",
            "Identifiant participant",
            "Identifiant bénéficiaire",
            "Id",
            "ID bénéficiaire",
        ),
    ),
    "date_entree": (
        "Date d'entrée",
        ("Date d'entrée", "Date entrée", "Date d'entrée dans l'action"),
    ),
    "date_sortie": (
        "Date de sortie",
        ("Date de sortie", "Date sortie", "Date de sortie de l'action"),
    ),
    "motif_sortie": ("Motif de sortie", ("Motif de sortie", "Motif sortie", "Motif")),
    "mise_en_parcours": (
        "Mise en parcours en cours",
        ("Mise en parcours en cours", "Mise en parcours", "Mise en parcours (en cours)"),
    ),
}
# Date de sortie is not required by the contract (blank while a person is still accompanied), nor
# its Motif (required only when a Date de sortie is set): a sheet of people all still accompanied
# may come without both columns.
_PARTICIPANT_REQUIRED = ("identifiant", "date_entree")

_CER_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "identifiant": _PARTICIPANT_FIELDS["identifiant"],
    "date_signature": (
        "Date de signature",
        ("Date de signature", "Date signature", "Date de signature du CER", "Date du CER"),
    ),
    "accompagnement_social": (
        "Accompagnement social",
        ("Accompagnement social", "Accompagnement social (Oui/Non)"),
    ),
}
_CER_REQUIRED = ("identifiant", "date_signature", "accompagnement_social")


_ACTION_KEYS = label_table(_ACTION_FIELDS)
_PARTICIPANT_KEYS = label_table(_PARTICIPANT_FIELDS)
_CER_KEYS = label_table(_CER_FIELDS)
_SHEET_KEYS = label_table({sheet: (sheet, al) for sheet, al in _SHEET_ALIASES.items()})
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _label_key(text: str, table: dict[str, str]) -> str | None:
    """The field a label cell names, tolerating a parenthesised hint '(JJ/MM/AAAA)' and
    punctuation inside words ('E.T.P.': see :func:`.normalize.label_table`)."""
    key = lookup_label(text, table)
    if key is None and ("(" in text or "[" in text):
        key = lookup_label(_PAREN.sub(" ", text), table)
    return key


# first characters a total row's label can start with (normalize.is_total_label), for a cheap test
_TOTAL_START = frozenset("tTsS \t\u00a0\u202f")


def _is_total(text: str) -> bool:
    head = text.lstrip()[:1]
    if head not in ("t", "T", "s", "S"):
        return False
    return is_total_label(normalize_label(text))


class _FileRejected(Exception):
    """Internal: the whole workbook is refused (message = plain-French reason)."""

    def __init__(
        self,
        reason: str,
        *,
        sheet: str | None = None,
        column: str | None = None,
        value: str | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.sheet = sheet
        self.column = column
        self.value = value
        self.num: str | None = None


class _AmbiguousSheets(_FileRejected):
    """Internal: two sheets of the workbook match the same expected sheet."""


# --------------------------------------------------------------------------- opening
# How the refusal of a file that could not be opened as a workbook at all begins (unreadable,
# empty, corrupt or truncated, password-protected): nothing in it could be read, its N°
# convention included. Such a file may be a correction still being copied: the loader lets it
# count, under the number its name carries, as the newest workbook of that convention
# (discovery.convention_candidate). A readable file that is not a report (a side list without
# Action sheet) and a file that is not a spreadsheet at all (text, CSV) never do.
UNOPENED = ("fichier illisible", "fichier vide", "classeur illisible",
            "classeur protégé par mot de passe")


def refused_unopened(reason: str | None) -> bool:
    """Whether a workbook's refusal ``reason`` says it could not be opened (:data:`UNOPENED`)."""
    return bool(reason) and reason.startswith(UNOPENED)


class _ReaderPanic(Exception):
    """calamine (Rust) panicked on the file: pyo3 raises that as PanicException, a
    BaseException that ``except Exception`` misses (a truncated .xls panics at opening: it was
    refused as 'erreur inattendue', not as a file that cannot be opened, and the version it
    corrects stayed published; a cold review)."""


def _calamine(call, *args):
    """``call(*args)``, a calamine call, with a panic raised as :class:`_ReaderPanic` (an
    Exception like the reader's other failures); an interruption stays one."""
    try:
        return call(*args)
    except (Exception, KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - pyo3's PanicException, not importable
        raise _ReaderPanic(f"{type(exc).__name__}: {exc}") from exc


def _open_workbook(path: Path) -> CalamineWorkbook:
    if path.suffix.lower() in (".xlsx", ".ods"):
        try:  # the common case, in one open: a well-formed workbook named after its format
            return _calamine(CalamineWorkbook.from_path, str(path))
        except Exception:  # noqa: BLE001 - diagnosed below from the file's first bytes
            pass
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        # moved or deleted after the listing: not a correction that cannot be read (UNOPENED),
        # it takes no part in the choice of the convention's workbook; the next run settles it
        raise _FileRejected("fichier disparu du dossier pendant le chargement") from None
    except OSError as exc:
        raise _FileRejected(f"fichier illisible ({type(exc).__name__})") from None
    if not head:
        raise _FileRejected("fichier vide : ce n'est pas un classeur .xlsx ou .ods")
    if head.startswith(b"PK"):
        try:
            return _calamine(CalamineWorkbook.from_path, str(path))
        except PasswordError:
            raise _FileRejected("classeur protégé par mot de passe") from None
        except Exception:
            pass
        try:  # extension does not match the content (an .ods named .xlsx): sniff the bytes
            return _calamine(CalamineWorkbook.from_filelike, io.BytesIO(path.read_bytes()))
        except PasswordError:
            raise _FileRejected("classeur protégé par mot de passe") from None
        except Exception:
            raise _FileRejected(
                "classeur illisible : archive corrompue ou tronquée, ou protégée par mot de passe"
            ) from None
    if head.startswith(_OLE_MAGIC):
        data = path.read_bytes()
        if (
            "EncryptionInfo".encode("utf-16-le") in data
            or "EncryptedPackage".encode("utf-16-le") in data
        ):
            raise _FileRejected("classeur protégé par mot de passe (chiffré)")
        try:  # a legacy .xls, tolerated
            return _calamine(CalamineWorkbook.from_filelike, io.BytesIO(data))
        except Exception:
            raise _FileRejected(
                "classeur illisible : format Excel 97-2003 endommagé ou protégé par mot de passe"
            ) from None
    raise _FileRejected(
        "ce fichier n'est pas un classeur .xlsx ou .ods (texte, CSV ou format inconnu)"
    )


def _read_grid(wb: CalamineWorkbook, sheet_name: str) -> list[list]:
    try:
        return _calamine(lambda: wb.get_sheet_by_name(sheet_name).to_python(
            skip_empty_area=False))
    except PasswordError:
        raise _FileRejected("classeur protégé par mot de passe") from None
    except Exception:
        raise _FileRejected(f"feuille {sheet_name} illisible", sheet=sheet_name) from None


# --------------------------------------------------------------------------- action
@dataclass(slots=True)
class _Found:
    value: object
    row: int  # 0-based
    has_value: bool


def _scan_action(grid: list[list]) -> dict[str, _Found]:
    """All label cells of the Action sheet with the next non-empty cell to their right."""
    found: dict[str, _Found] = {}
    keys = _ACTION_KEYS
    for r, row in enumerate(grid):
        n = len(row)
        c = 0
        while c < n:
            cell = row[c]
            c += 1
            if type(cell) is not str or not cell or cell.isspace():
                continue
            field_name = _label_key(cell, keys)
            if field_name is None:
                continue
            value: object = None
            has_value = False
            j = c
            while j < n:
                v = row[j]
                if v is None or v == "" or (type(v) is str and v.isspace()):
                    j += 1
                    continue
                if type(v) is str and _label_key(v, keys) is not None and (
                    j > c or any(not is_blank(x) for x in row[j + 1 :])
                ):
                    # the next cell is another label: this one has no value. Unless it stands
                    # right beside this label with nothing after it on the row: then it is this
                    # label's value (an Intitulé "Accueils individuels"). A label two cells away
                    # is a pair of its own ('Opérateur | | Date de fin |': both empty).
                    break
                value, has_value = v, True
                c = j + 1  # never read a value cell as a label
                break
            prev = found.get(field_name)
            if prev is None or (not prev.has_value and has_value):
                found[field_name] = _Found(value, r, has_value)
    return found


def _label(field_name: str) -> str:
    return _ACTION_FIELDS[field_name][0]


# The conventions of exercise N are adopted on budget N and carried out over N and N+1 (the
# published report: "adoptées lors des commissions permanentes qui ont ventilé le budget 2017.
# Leur mise en œuvre s'est étalée sur les années 2017 et 2018"). A start date outside those two
# years is a typing error, and a costly one: participants' dates are checked against the
# convention's period, so a start typed 2012 would let exits of 2013 count in the 2017 bilan.
_START_OUTSIDE = (
    "date de début {date:%d/%m/%Y} hors des années {exercice}-{suivant} (une convention de "
    "l'exercice {exercice} est adoptée sur son budget et mise en œuvre en {exercice} et {suivant})"
)
# Its end, likewise: exits after the end are read as still accompanied, so an end typed 2071
# would count years of later exits in this bilan. Extensions by avenant ("prolongées par voie
# d'avenant en 2018") may carry it into N+2, no further.
_END_BEYOND = (
    "date de fin {date:%d/%m/%Y} au-delà du 31/12/{limite} (convention de l'exercice {exercice} "
    "mise en œuvre en {exercice} et {suivant}, prolongations par avenant comprises)"
)


def _parse_action(
    grid: list[list], sheet: str, exercice: int, nomen: Nomenclature
) -> tuple[dict, Thematique]:
    found = _scan_action(grid)
    # (column, value, reason, row of the label: 1-based, None when the label is absent)
    problems: list[tuple[str, str | None, str, int | None]] = []
    out: dict[str, object] = {}

    def row_of(field_name: str) -> int | None:
        f = found.get(field_name)
        return None if f is None else f.row + 1

    def get(field_name: str, required: bool) -> object | None:
        f = found.get(field_name)
        if f is None or not f.has_value:
            if required:
                what = "absente" if f is None else "sans valeur"
                problems.append(
                    (_label(field_name), None, f"rubrique « {_label(field_name)} » {what}",
                     row_of(field_name))
                )
            return None
        return f.value

    def check(field_name: str, parser, value: object) -> object | None:
        try:
            return parser(value)
        except ValeurInvalide as exc:
            msg = str(exc)
            if not normalize_label(msg).startswith(normalize_label(_label(field_name))):
                msg = f"{_label(field_name)} : {msg}"
            problems.append((_label(field_name), cell_to_text(value), msg, row_of(field_name)))
            return None

    num = None
    raw = get("num_convention", True)
    if raw is not None:
        text = cell_to_text(raw)
        try:
            num, year = parse_num_convention(text)
            if year != exercice:
                problems.append(
                    (
                        _label("num_convention"),
                        text,
                        f"N° convention d'un autre exercice ({year}) "
                        f"que celui du dossier ({exercice})",
                        row_of("num_convention"),
                    )
                )
        except ValeurInvalide as exc:
            problems.append((_label("num_convention"), text, str(exc), row_of("num_convention")))
    out["num_convention"] = num

    for field_name in ("operateur", "intitule"):
        raw = get(field_name, True)
        text = None if raw is None else cell_to_text(raw).strip()
        if raw is not None and not text:
            problems.append(
                (_label(field_name), None, f"rubrique « {_label(field_name)} » sans valeur",
                 row_of(field_name))
            )
        out[field_name] = text or None

    raw = get("siret", True)
    out["siret"] = None if raw is None else check("siret", parse_siret, raw)

    them: Thematique | None = None
    raw = get("code_thematique", True)
    if raw is not None:
        them = nomen.thematique(raw)
        if them is None:
            problems.append(
                (
                    _label("code_thematique"),
                    cell_to_text(raw),
                    "code thématique inconnu (absent de thematiques.csv)",
                    row_of("code_thematique"),
                )
            )
    out["code_thematique"] = them.code if them else None

    for field_name in ("date_debut", "date_fin"):
        raw = get(field_name, True)
        out[field_name] = None if raw is None else check(field_name, parse_date, raw)
    if out["date_debut"] and out["date_fin"] and out["date_fin"] < out["date_debut"]:  # type: ignore[operator]
        problems.append(
            (
                _label("date_fin"),
                cell_to_text(out["date_fin"]),
                "date de fin antérieure à la date de début",
                row_of("date_fin"),
            )
        )
    debut, fin = out["date_debut"], out["date_fin"]
    if debut is not None and not exercice <= debut.year <= exercice + 1:  # type: ignore[union-attr]
        problems.append(
            (
                _label("date_debut"),
                cell_to_text(debut),
                _START_OUTSIDE.format(date=debut, exercice=exercice, suivant=exercice + 1),
                row_of("date_debut"),
            )
        )
    if fin is not None and fin.year > exercice + 2:  # type: ignore[union-attr]
        problems.append(
            (
                _label("date_fin"),
                cell_to_text(fin),
                _END_BEYOND.format(date=fin, limite=exercice + 2, exercice=exercice,
                                   suivant=exercice + 1),
                row_of("date_fin"),
            )
        )

    raw = get("etp", True)
    etp = None if raw is None else check("etp", parse_french_decimal, raw)
    if etp is not None and etp < 0:  # type: ignore[operator]
        problems.append((_label("etp"), cell_to_text(raw), "ETP mobilisés négatif",
                         row_of("etp")))
        etp = None
    out["etp"] = etp

    # nb_referents only for RU, indicators only for thematics that have them
    out["nb_referents"] = None
    if them is not None and them.code == "RU":
        raw = get("nb_referents", True)
        out["nb_referents"] = (
            None if raw is None else check("nb_referents", parse_whole_number, raw)
        )
    for field_name in _INDICATORS:
        out[field_name] = None
        if them is not None and field_name in them.indicateurs_specifiques:
            raw = get(field_name, True)
            out[field_name] = None if raw is None else check(field_name, parse_whole_number, raw)

    if problems:
        column, value, _, _ = problems[0]
        # each problem with the row of its label, when it has one
        exc = _FileRejected(
            "; ".join(why if row is None else f"{why} (ligne {row})"
                      for _, _, why, row in problems),
            sheet=sheet, column=column, value=value,
        )
        exc.num = num if num is not None and num[4:8] == str(exercice) else None
        raise exc
    f = found["num_convention"]
    action = {
        "exercice": exercice,
        "num_convention": out["num_convention"],
        "operateur": out["operateur"],
        "siret": out["siret"],
        "intitule": out["intitule"],
        "code_thematique": out["code_thematique"],
        "date_debut": out["date_debut"],
        "date_fin": out["date_fin"],
        "etp": out["etp"],
        "nb_referents": out["nb_referents"],
        "accueils_individuels": out["accueils_individuels"],
        "problemes_mobilite_resolus": out["problemes_mobilite_resolus"],
        "lieux_acces_multimedia": out["lieux_acces_multimedia"],
        "certifications_delivrees": out["certifications_delivrees"],
        "source_sheet": sheet,
        "source_row": f.row + 1,
    }
    assert them is not None
    return action, them


# --------------------------------------------------------------------------- tables
def _find_header(
    grid: list[list], keys: dict[str, str], required: tuple[str, ...]
) -> tuple[int | None, dict[str, int], int | None, dict[str, int]]:
    """(header row, field → column) of the first row among the first 10 holding every
    required label; else (None, {}, best candidate row, its columns) for diagnostics.
    A field named by several columns maps to the leftmost: see :func:`_header_problem`."""
    best_row, best_cols = None, {}
    for r in range(min(HEADER_SEARCH_ROWS, len(grid))):
        cols: dict[str, int] = {}
        for c, cell in enumerate(grid[r]):
            if type(cell) is str and cell and not cell.isspace():
                key = _label_key(cell, keys)
                if key is not None and key not in cols:
                    cols[key] = c
        if all(k in cols for k in required):
            return r, cols, r, cols
        if len(cols) > len(best_cols):
            best_row, best_cols = r, cols
    return None, {}, best_row, best_cols


# words of a header cell that speaks of a person's exit (see _header_problem)
_EXIT_WORDS = frozenset({"sortie", "sorties", "motif", "motifs", "fin"})


def _header_problem(
    grid: list[list], header: int, keys: dict[str, str], fields, optional_exit: tuple[str, ...]
) -> tuple[str, str] | None:
    """(reason, column) when the header row cannot be read without guessing, else None.

    - Two columns name the same field ('ID' and 'Identifiant', 'Motif de sortie' and 'Motif'):
      which one holds the data is a guess either way (a line counter was taken for the
      identifier), so the sheet is refused, naming both.
    - An exit column of ``optional_exit`` is absent while a header cell that speaks of exits
      ('Date de fin d'accompagnement', 'Raison de la sortie', or 'Sortie' over a two-line header)
      matches no field: its exits would be dropped unseen, so the sheet is refused as when the
      column is missing. A sheet with no exit column at all is read (the contract requires
      neither)."""
    seen: dict[str, list[str]] = {}
    unmatched_exit = False
    head = grid[header]
    rows = [head] + ([grid[header - 1]] if header > 0 and optional_exit else [])
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            if type(cell) is not str or not cell.strip():
                continue
            if i == 1:
                # the row above speaks for a column only as the upper line of a two-line header
                # ('Sortie' over 'Date' / 'Motif'): over a header cell that names no field. A
                # title ('Participants – bilan de fin d'action') stands over 'Identifiant'
                # (probe review: it refused a sheet without exit columns)
                below = head[j] if j < len(head) else None
                if type(below) is not str or not below.strip() or (
                    _label_key(below, keys) is not None
                ):
                    continue
            key = _label_key(cell, keys)
            if key is not None and i == 0:
                seen.setdefault(key, []).append(cell.strip())
            elif key is None and _EXIT_WORDS & set(normalize_label(cell).split()):
                unmatched_exit = True
    for key, labels in seen.items():
        if len(labels) > 1:
            names = " et ".join(f"« {x} »" for x in labels)
            return (
                f"plusieurs colonnes pour « {fields[key][0]} » ({names}) : laquelle lire ? "
                "n'en garder qu'une, ou renommer l'autre",
                fields[key][0],
            )
    missing = [k for k in optional_exit if k not in seen]
    if missing and unmatched_exit:
        names = ", ".join(f"« {fields[k][0]} »" for k in missing)
        return (
            f"colonne(s) {names} introuvable(s) alors qu'un en-tête parle de sortie : "
            f"renommer la colonne selon le modèle ({names})",
            fields[missing[0]][0],
        )
    return None


def _blank(v: object) -> bool:
    return v == "" or v is None or (type(v) is str and v.isspace())


def _first_nonblank(row: list) -> object:
    for v in row:
        if v != "" and v is not None and not (type(v) is str and v.isspace()):
            return v
    return None


# one-word headings of a note under the table ('Observations :', 'N.B.'), never identifiers
_NOTE_WORDS = frozenset({"nb", "ps", "note", "notes", "observation", "observations",
                         "remarque", "remarques", "commentaire", "commentaires"})


_WORD_EDGES = "«»\"'’()[]:;,.!?…-–—/"


def _is_prose(v: str) -> bool:
    """Text of at least two words made of letters only: a sentence or a name, not a number
    ('Situation arrêtée au', 'Jean Dupont'; not '1234 567', 'AB 123', '31 déc.')."""
    words = 0
    for w in v.split():
        w = w.strip(_WORD_EDGES)
        if w and w.isalpha():
            words += 1
            if words == 2:
                return True
    return False


_HAS_DIGIT = re.compile(r"\d").search


def _prose_identifiant(v: str) -> str | None:
    """Why an identifier cell holds no pseudonymised number (the refusal's reason), or None.

    A dated note under the table ('Situation arrêtée au | 31/12/2017', 'Observations : |
    31/12/2017') or a name is no identifier, and was counted as one more participant (probe
    review; spec audit for one-word notes and hyphenated names). Two cases: prose (two words of
    letters), and text without any digit ('Date :', 'N.B. :', 'Date d'arrêté', 'Jean-Pierre
    DUPONT', 'NC'): the spec's identifier is a pseudonymised *number*. The row is refused
    without its text, which may be a person's name. Blank text is neither: its row is refused
    as 'Identifiant manquant'."""
    if _HAS_DIGIT(v):  # one C-level search per row: identifiers have a digit early
        return _PROSE_IDENTIFIANT if (" " in v or "\xa0" in v) and _is_prose(v) else None
    return _SANS_CHIFFRE_IDENTIFIANT if v and not v.isspace() else None


def _blank_or_prose(v: object) -> bool:
    """Empty, or prose (:func:`_is_prose`), or a note's one-word heading (a note, not an
    identifier nor a date: '1234 567' or 'AB 123' is an identifier typed with a space, and its
    row is read, not skipped)."""
    if v == "" or v is None:
        return True
    if type(v) is not str:
        return False
    if v.isspace():
        return True
    if len(v.split()) > 1 and _is_prose(v):
        return True
    return normalize_label(v).replace(" ", "") in _NOTE_WORDS  # 'Observations :', 'N.B.'


def _count_rows(
    grid: list[list], header: int | None, cols: dict[str, int], date_fields: tuple[str, ...]
) -> int:
    """Data rows of a sheet whose header is incomplete (only for counting a rejected file)."""
    start = 0 if header is None else header + 1
    ci = cols.get("identifiant")
    dcols = [cols[f] for f in date_fields if f in cols]
    n = 0
    for row in grid[start:]:
        first = _first_nonblank(row)
        if first is None or (type(first) is str and _is_total(first)):
            continue
        if header is not None and all(_blank_or_prose(row[c]) for c in dcols):
            if ci is None or _blank_or_prose(row[ci]):
                continue  # blank or note row
        n += 1
    return n


def _missing_columns_reason(
    sheet: str, fields, required, cols: dict[str, int], grid: list[list], best: int | None,
    keys: dict[str, str],
) -> tuple[str, str, int | None]:
    """(reason, first missing column, None) for a sheet whose header lacks required columns. The
    reason names the likeliest header row and, when it holds at least two known labels (a header,
    not a row of data), quotes its other labels (often the missing column under another name:
    'Entrée le' for 'Date d'entrée'), each cut to 40 characters."""
    missing = [fields[k][0] for k in required if k not in cols]
    names = ", ".join(f"« {m} »" for m in missing)
    plural = "s" if len(missing) > 1 else ""
    reason = (
        f"feuille {sheet} : colonne{plural} obligatoire{plural} {names} introuvable{plural} "
        f"(ligne d'en-tête attendue dans les {HEADER_SEARCH_ROWS} premières lignes)"
    )
    if best is None:
        return reason, missing[0], None
    reason += f" ; en-tête lu ligne {best + 1}"
    unknown = [
        cell.strip()[:40] for cell in grid[best]
        if type(cell) is str and cell.strip() and _label_key(cell, keys) is None
    ]
    if unknown and len(cols) >= 2:
        reason += ", non reconnu(s) : " + ", ".join(f"« {u} »" for u in unknown[:5])
    return reason, missing[0], None


@dataclass(slots=True)
class _TableResult:
    rows: list[tuple]  # models.PARTICIPANT_ROW_FIELDS / CER_ROW_FIELDS
    rejets: list[Rejet]
    rows_read: int
    # (reason, column, row to name after the reason: the header row read and refused, 1-based;
    # None when the reason names it already, or there is none)
    header_error: tuple[str, str, int | None] | None = None
    # identifiers of the refused rows whose identifier could be read (see _mask_identifiers)
    refused_ids: set[str] = field(default_factory=set)


_L_IDENT = _PARTICIPANT_FIELDS["identifiant"][0]
_PROSE_IDENTIFIANT = ("Identifiant : du texte de plusieurs mots, pas un numéro pseudonymisé "
                      "(une note sous le tableau ? un nom ?) : ligne non comptée")
_SANS_CHIFFRE_IDENTIFIANT = ("Identifiant : aucun chiffre, pas un numéro pseudonymisé "
                             "(une note sous le tableau ? un nom ? « NC » ?) : ligne non comptée")
_L_ENTREE = _PARTICIPANT_FIELDS["date_entree"][0]
_L_SORTIE = _PARTICIPANT_FIELDS["date_sortie"][0]
_L_MOTIF = _PARTICIPANT_FIELDS["motif_sortie"][0]
_L_MEP = _PARTICIPANT_FIELDS["mise_en_parcours"][0]
_L_SIGN = _CER_FIELDS["date_signature"][0]
_L_ACCS = _CER_FIELDS["accompagnement_social"][0]


def _is_skipped_row(row: list, ident_v: object, date_cells: tuple) -> bool:
    """Blank, note, Total or repeated-header row (called only when no date cell is a date)."""
    if _blank_or_prose(ident_v) and all(_blank_or_prose(v) for v in date_cells):
        return True  # blank row or note row: no identifiant and no date
    return _is_total_row(row)


def _is_text_date(v: object) -> bool:
    """A cell that looks like a date typed as text: one word starting with a digit.

    Such a cell is neither blank nor prose, nor a column label, so a row holding it in its first
    date column is skipped only if it is a Total row: the full :func:`_is_skipped_row` /
    :func:`_is_repeated_header` tests give the same verdict for more CPU (the drops hold ~90,000
    such rows per SCALE=10: operators who type dates as text)."""
    return type(v) is str and v[:1].isdigit() and len(v.split()) == 1


def _is_total_row(row: list) -> bool:
    """A row whose first non-empty cell reads 'Total…' (cheap when column A holds data)."""
    first = row[0]
    if type(first) is str:
        if first and first[0] not in _TOTAL_START:
            return False  # column A starts with a character no blank nor 'Total' starts with
    elif first is not None:
        return False  # a number or a date in column A: the first non-empty cell is no text
    first = _first_nonblank(row)
    return type(first) is str and _is_total(first)


def _is_repeated_header(ident_v: object, date_v: object, keys: dict[str, str], date_key: str):
    return (
        type(ident_v) is str
        and type(date_v) is str
        and not date_v[:1].isdigit()  # a date typed as text (the common case) is no label
        and _label_key(date_v, keys) == date_key
        and _label_key(ident_v, keys) == "identifiant"
    )


def _parse_participants(
    grid: list[list],
    sheet: str,
    exercice: int,
    num: str | None,
    nomen: Nomenclature,
    period: tuple[_DATE, _DATE] | None = None,
) -> _TableResult:
    """Rows of the Participants sheet. With the convention's ``period`` (début, fin), an exit
    before its start, or an entry after its end, refuses the row: neither happened in the action
    (an entry before its start is a person carried over from an earlier one). An exit after its
    end is read: the person was still accompanied when it ended, and the marts count them as
    such (int_participants__sorties_classees)."""
    header, cols, best, best_cols = _find_header(grid, _PARTICIPANT_KEYS, _PARTICIPANT_REQUIRED)
    if header is None:
        n = _count_rows(grid, best, best_cols, ("date_entree", "date_sortie"))
        reason = _missing_columns_reason(
            sheet, _PARTICIPANT_FIELDS, _PARTICIPANT_REQUIRED, best_cols, grid, best,
            _PARTICIPANT_KEYS,
        )
        return _TableResult([], [], n, reason)
    problem = _header_problem(
        grid, header, _PARTICIPANT_KEYS, _PARTICIPANT_FIELDS, ("date_sortie", "motif_sortie")
    )
    if problem is not None:
        n = _count_rows(grid, header, cols, ("date_entree", "date_sortie"))
        return _TableResult(
            [], [], n, (f"feuille {sheet} : {problem[0]}", problem[1], header + 1)
        )
    ci, cde = (cols[k] for k in _PARTICIPANT_REQUIRED)
    cds, cm = cols.get("date_sortie"), cols.get("motif_sortie")
    cmp_ = cols.get("mise_en_parcours")
    motifs = nomen.motifs
    oui_non = OUI_NON_FAST
    date_t, str_t = _DATE, str
    norm = normalize_label
    to_date = parse_date
    min_date = MIN_ROW_DATE
    out: list[tuple] = []
    append = out.append
    rejets: list[Rejet] = []
    refused_ids: set[str] = set()
    seen: dict[tuple, object] = {}  # key of a counted row -> the column a repeat may change
    read = 0

    def reject(
        rownum: int, column: str, value: str | None, reason: str, ident: str | None = None
    ) -> None:
        rejets.append(Rejet(sheet, rownum, column, value, reason))
        if ident is not None:  # a refused row's identifier: masked wherever it is typed
            refused_ids.add(ident)

    for rownum, row in enumerate(islice(grid, header + 1, None), header + 2):
        ident_v = row[ci]
        de_v = row[cde]
        ds_v = row[cds] if cds is not None else ""
        tde = type(de_v)
        tds = type(ds_v)
        # -- not a participant: blank / note / Total / repeated header row (not counted)
        if tde is not date_t and tds is not date_t:
            if _is_text_date(de_v):
                if _is_total_row(row):
                    continue
            elif _is_skipped_row(row, ident_v, (de_v, ds_v)) or _is_repeated_header(
                ident_v, de_v, _PARTICIPANT_KEYS, "date_entree"
            ):
                continue
        elif _is_total_row(row):
            continue
        read += 1
        # -- identifiant
        if type(ident_v) is str_t:
            if pas_un_numero := _prose_identifiant(ident_v):
                reject(rownum, _L_IDENT, None, pas_un_numero)  # its text unrecorded
                continue
            ident = canonical_identifiant(ident_v)
            if not ident:
                reject(rownum, _L_IDENT, None, "Identifiant manquant")
                continue
        else:
            try:
                ident = parse_identifiant(ident_v)
            except ValeurInvalide as exc:
                reject(rownum, _L_IDENT, hash_identifiant(ident_v), f"Identifiant : {exc}")
                continue
        # -- date d'entrée
        if tde is date_t:
            de = de_v
        elif _blank(de_v):
            reject(rownum, _L_ENTREE, None, "Date d'entrée manquante", ident)
            continue
        else:
            try:
                de = to_date(de_v)
            except ValeurInvalide as exc:
                reject(rownum, _L_ENTREE, cell_to_text(de_v), f"Date d'entrée : {exc}", ident)
                continue
        if de < min_date:
            reject(rownum, _L_ENTREE, de.isoformat(), _IMPLAUSIBLE_DATE, ident)
            continue
        # -- date de sortie
        if tds is date_t:
            ds = ds_v
        elif ds_v == "" or (tds is str_t and ds_v.isspace()):
            ds = None
        else:
            try:
                ds = to_date(ds_v)
            except ValeurInvalide as exc:
                reject(rownum, _L_SORTIE, cell_to_text(ds_v), f"Date de sortie : {exc}", ident)
                continue
        if ds is not None and ds < de:
            reject(rownum, _L_SORTIE, ds.isoformat(), _EXIT_BEFORE_ENTRY, ident)
            continue
        if period is not None:
            if de > period[1]:
                reject(rownum, _L_ENTREE, de.isoformat(),
                       f"date d'entrée après la fin de la convention ({period[1]:%d/%m/%Y})",
                       ident)
                continue
            if ds is not None and ds < period[0]:
                reject(rownum, _L_SORTIE, ds.isoformat(),
                       f"date de sortie avant le début de la convention ({period[0]:%d/%m/%Y})",
                       ident)
                continue
        # -- motif de sortie
        mot_v = row[cm] if cm is not None else ""
        if mot_v == "" or (type(mot_v) is str_t and mot_v.isspace()):
            if ds is not None:
                reject(
                    rownum, _L_MOTIF, None, "Date de sortie renseignée sans Motif de sortie", ident
                )
                continue
            brut = code = None
        else:
            brut = mot_v.strip() if type(mot_v) is str_t else cell_to_text(mot_v)
            code = motifs.get(norm(brut))
            if code is None:
                reject(rownum, _L_MOTIF, brut, _UNKNOWN_MOTIF, ident)
                continue
            if ds is None:
                reject(
                    rownum, _L_MOTIF, brut, "Motif de sortie renseigné sans Date de sortie", ident
                )
                continue
        # -- mise en parcours en cours (optional column)
        mep = None
        if cmp_ is not None:
            mep_v = row[cmp_]
            mep = oui_non.get(mep_v)
            if mep is None and mep_v != "":
                try:
                    mep = parse_oui_non(mep_v)
                except ValeurInvalide as exc:
                    reject(rownum, _L_MEP, cell_to_text(mep_v), f"{_L_MEP} : {exc}", ident)
                    continue
        # -- duplicate
        key = (ident, de, ds, code)
        if key in seen:
            # (a blank Mise en parcours counts as Non: only an Oui against a Non/blank differs)
            reason = (_DUPLICATE_PARTICIPANT if seen[key] == (mep is True)
                      else _DUPLICATE_PARTICIPANT_MEP)
            reject(rownum, _L_IDENT, hash_identifiant(ident), reason, ident)
            continue
        seen[key] = mep is True
        append((ident, de, ds, brut, code, mep, rownum))  # PARTICIPANT_ROW_FIELDS
    return _TableResult(out, rejets, read, refused_ids=refused_ids)


# The earliest date a participant or CER row may carry: insertion actions for people on a
# minimum income began with the RMI (December 1988). An earlier date is a typing error or a
# figure typed in a date column ('Nombre de participants | 102' reads as the serial date
# 1900-04-11): the row is refused rather than counted.
MIN_ROW_DATE = _DATE(1989, 1, 1)
_IMPLAUSIBLE_DATE = (
    "date antérieure au 01/01/1989 (avant le RMI) : faute de frappe, ou nombre saisi dans "
    "une colonne de date (ligne de comptage ?)"
)
_UNKNOWN_MOTIF = "motif de sortie inconnu (ni code ni libellé de motifs_sortie.csv)"
_EXIT_BEFORE_ENTRY = "date de sortie antérieure à la date d'entrée"
_DUPLICATE_PARTICIPANT = (
    "ligne en double (même identifiant, dates et motif qu'une ligne précédente)"
)
_DUPLICATE_CER = "ligne en double (même identifiant et date de signature)"
# The same, when the repeat says otherwise in the one column the key leaves out: the first row
# is counted, and the reason says so (it read as an exact duplicate: independent recomputation)
_DUPLICATE_PARTICIPANT_MEP = (
    "ligne en double (même identifiant, dates et motif qu'une ligne précédente) mais « Mise en "
    "parcours en cours » différente : la première ligne est comptée"
)
_DUPLICATE_CER_ACCS = (
    "ligne en double (même identifiant et date de signature) mais « Accompagnement social » "
    "différent : la première ligne est comptée"
)


def _parse_cer(
    grid: list[list],
    sheet: str,
    exercice: int,
    num: str | None,
    period: tuple[_DATE, _DATE] | None = None,
) -> _TableResult:
    """Rows of the CER sheet; with the convention's ``period``, a contract signed outside it
    refuses its row (the bilan counts the contracts signed or renewed in the action)."""
    header, cols, best, best_cols = _find_header(grid, _CER_KEYS, _CER_REQUIRED)
    if header is None:
        n = _count_rows(grid, best, best_cols, ("date_signature",))
        reason = _missing_columns_reason(
            sheet, _CER_FIELDS, _CER_REQUIRED, best_cols, grid, best, _CER_KEYS
        )
        return _TableResult([], [], n, reason)
    problem = _header_problem(grid, header, _CER_KEYS, _CER_FIELDS, ())
    if problem is not None:
        n = _count_rows(grid, header, cols, ("date_signature",))
        return _TableResult(
            [], [], n, (f"feuille {sheet} : {problem[0]}", problem[1], header + 1)
        )
    ci, cs, ca = (cols[k] for k in _CER_REQUIRED)
    oui_non = OUI_NON_FAST
    date_t, str_t = _DATE, str
    out: list[tuple] = []
    append = out.append
    rejets: list[Rejet] = []
    refused_ids: set[str] = set()
    seen: dict[tuple, object] = {}  # key of a counted row -> the column a repeat may change
    read = 0

    def reject(
        rownum: int, column: str, value: str | None, reason: str, ident: str | None = None
    ) -> None:
        rejets.append(Rejet(sheet, rownum, column, value, reason))
        if ident is not None:  # a refused row's identifier: masked wherever it is typed
            refused_ids.add(ident)

    for rownum, row in enumerate(islice(grid, header + 1, None), header + 2):
        ident_v = row[ci]
        ds_v = row[cs]
        tds = type(ds_v)
        if tds is not date_t:
            if _is_text_date(ds_v):
                if _is_total_row(row):
                    continue
            elif _is_skipped_row(row, ident_v, (ds_v,)) or _is_repeated_header(
                ident_v, ds_v, _CER_KEYS, "date_signature"
            ):
                continue
        elif _is_total_row(row):
            continue
        read += 1
        if type(ident_v) is str_t:
            if pas_un_numero := _prose_identifiant(ident_v):
                reject(rownum, _L_IDENT, None, pas_un_numero)  # its text unrecorded
                continue
            ident = canonical_identifiant(ident_v)
            if not ident:
                reject(rownum, _L_IDENT, None, "Identifiant manquant")
                continue
        else:
            try:
                ident = parse_identifiant(ident_v)
            except ValeurInvalide as exc:
                reject(rownum, _L_IDENT, hash_identifiant(ident_v), f"Identifiant : {exc}")
                continue
        if tds is date_t:
            ds = ds_v
        elif _blank(ds_v):
            reject(rownum, _L_SIGN, None, "Date de signature manquante", ident)
            continue
        else:
            try:
                ds = parse_date(ds_v)
            except ValeurInvalide as exc:
                reject(rownum, _L_SIGN, cell_to_text(ds_v), f"Date de signature : {exc}", ident)
                continue
        if ds < MIN_ROW_DATE:
            reject(rownum, _L_SIGN, ds.isoformat(), _IMPLAUSIBLE_DATE, ident)
            continue
        if period is not None and not period[0] <= ds <= period[1]:
            reject(rownum, _L_SIGN, ds.isoformat(),
                   f"date de signature hors de la période de la convention "
                   f"(du {period[0]:%d/%m/%Y} au {period[1]:%d/%m/%Y})", ident)
            continue
        acc_v = row[ca]
        acc = oui_non.get(acc_v)
        if acc is None:
            try:
                acc = parse_oui_non(acc_v)
            except ValeurInvalide as exc:
                reject(rownum, _L_ACCS, cell_to_text(acc_v), f"{_L_ACCS} : {exc}", ident)
                continue
            if acc is None:
                reject(rownum, _L_ACCS, None, "Accompagnement social manquant (Oui/Non)", ident)
                continue
        key = (ident, ds)
        if key in seen:
            reason = _DUPLICATE_CER if seen[key] == acc else _DUPLICATE_CER_ACCS
            reject(rownum, _L_IDENT, hash_identifiant(ident), reason, ident)
            continue
        seen[key] = acc
        append((ident, ds, acc, rownum))  # CER_ROW_FIELDS
    return _TableResult(out, rejets, read, refused_ids=refused_ids)


def _mask_identifiers(
    rejets: list[Rejet], participants: list[tuple], cer: list[tuple], refused_ids: set[str]
) -> list[Rejet]:
    """The rejections with every participant identifier of the file pseudonymised.

    A refusal records the offending value, and an operator may have typed an identifier in the
    wrong column (as the exit reason, say): that value must not be on record in clear. Every
    identifier the file holds counts, whether its row was loaded or refused, and wherever in the
    file it appears.
    """
    ids = {r[0] for r in participants} | {r[0] for r in cer} | refused_ids  # r[0]: identifiant
    return [
        replace(rj, value=hash_identifiant(rj.value))
        if rj.value is not None and canonical_identifiant(rj.value) in ids
        else rj
        for rj in rejets
    ]


# --------------------------------------------------------------------------- entry point
def _rejected(
    reason: str,
    rows_read: int,
    num: str | None = None,
    sheet: str | None = None,
    column: str | None = None,
    value: str | None = None,
    *,
    exercice: int = 0,
    row: int | None = None,
) -> CompactWorkbook:
    return CompactWorkbook(
        exercice=exercice,
        num_convention=num,
        action=None,
        participants_sheet=None,
        participants=[],
        cer_sheet=None,
        cer=[],
        # the whole file is refused: no row_number (models.Rejet); the cell at fault, when
        # there is one, is named in the reason
        rejets=[Rejet(sheet, None, column, value,
                      reason if row is None else f"{reason} (ligne {row})")],
        rows_read=rows_read,
        rows_loaded=0,
        rows_rejected=rows_read,
        file_rejected=True,
    )


def parse_workbook(path: Path, *, exercice: int, seeds_dir: Path | None = None) -> WorkbookResult:
    """Parse one operator workbook (.xlsx or .ods). Never raises.

    Counting: rows_read = 1 (the Action record) + data rows of the Participants/CER
    sheets that the action's nature calls for; a whole-file rejection counts every row
    it could identify as rejected (at least 1, the Action record).
    """
    return parse_workbook_compact(path, exercice=exercice, seeds_dir=seeds_dir).expand()


def parse_workbook_compact(
    path: Path | str, *, exercice: int, seeds_dir: Path | None = None
) -> CompactWorkbook:
    """:func:`parse_workbook` with rows as tuples of their varying fields (the loader's path)."""
    try:
        return _parse_workbook(Path(path), int(exercice), seeds_dir)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - includes pyo3 PanicException
        return _rejected(f"erreur inattendue: {type(exc).__name__}", 1)


def _lines(n: int) -> str:
    return f"{n} ligne{'s' if n > 1 else ''}"


# Names of sheets that may hold a participant or CER table the kit does not name: 'Participants
# (2)' (Excel's copy), 'Copie de Participants' (Google's), 'Participants2', 'CER suite', 'Liste des
# bénéficiaires 2016'. Only those, and the kit's sheets an action does not read, are looked into:
# reading every sheet would read any stray sheet whole (a cell typed at row 1,048,576 of a 'Notes'
# sheet costs calamine gigabytes), for the rare 'Feuil2' copy (a known limit).
_TABLE_SHEET_NAME = re.compile(r"particip|benefici|contrat|engagement|(?:^| )cers?\d*(?: |$)")


def _tables_in(grid: list[list]) -> list[tuple[str, int]]:
    """The participant and CER tables a sheet holds, by their header (its required columns, or
    at least two of the kit's labels on one row: a column under another name is still a copy's
    header), each with its data rows (counted as for a refused file)."""
    found = []
    for canon, keys, required, dates in (
        (SHEET_PARTICIPANTS, _PARTICIPANT_KEYS, _PARTICIPANT_REQUIRED,
         ("date_entree", "date_sortie")),
        (SHEET_CER, _CER_KEYS, _CER_REQUIRED, ("date_signature",)),
    ):
        header, cols, best, best_cols = _find_header(grid, keys, required)
        if header is None and (best is None or len(best_cols) < 2):
            continue
        if n := _count_rows(grid, best, best_cols, dates):
            found.append((canon, n))
    return found


# what a table of each kind holds, in the notes and refusals that name one
_TABLE_OF = {SHEET_PARTICIPANTS: "de participants", SHEET_CER: "de CER"}


def _elsewhere_hint(canon: str, found: list[tuple[str, int, bool]]) -> str:
    """For a kit sheet missing or empty: the other sheets holding its kind of table
    (``found``: sheet, rows, hidden)."""
    if not found:
        return ""
    what = _TABLE_OF[canon]
    listed = ", ".join(f"« {name} » ({'masquée, ' if hidden else ''}{_lines(n)})"
                       for name, n, hidden in found)
    if len(found) == 1:
        return (f" ; la feuille {listed} contient un tableau {what}, non lu sous ce nom : "
                f"s'il s'agit de ceux de l'exercice, la renommer « {canon} », sinon la retirer "
                "du classeur")
    return (f" ; les feuilles {listed} contiennent des tableaux {what}, non lus sous ces noms : "
            f"s'il s'agit de ceux de l'exercice, les réunir en une seule feuille « {canon} », "
            "sinon les retirer du classeur")


def _parse_workbook(path: Path, exercice: int, seeds_dir: Path | None) -> CompactWorkbook:
    nomen = load_nomenclature(seeds_dir)
    try:
        wb = _open_workbook(path)
    except _FileRejected as exc:
        return _rejected(exc.reason, 1, exercice=exercice)
    with wb:
        # every sheet each expected sheet's names match: two would leave the choice to chance
        # (an empty 'PARTICIPANTS' before the filled 'Liste des participants'), so the file
        # is refused, naming both
        matches: dict[str, list[str]] = {}
        for name in wb.sheet_names:
            # no parenthesised hint here: 'Participants (2)', Excel's copy, is another sheet
            canon = lookup_label(name, _SHEET_KEYS)
            if canon is not None:
                matches.setdefault(canon, []).append(name)
        sheets = {canon: names[0] for canon, names in matches.items()}
        action_sheet = sheets.get(SHEET_ACTION)
        part_sheet = sheets.get(SHEET_PARTICIPANTS)
        cer_sheet = sheets.get(SHEET_CER)

        def rows_in(canon: str, name: str) -> int:
            """The data rows of participant or CER sheet ``name`` (0 if it cannot be read)."""
            with contextlib.suppress(_FileRejected):
                if canon == SHEET_PARTICIPANTS:
                    return _parse_participants(_read_grid(wb, name), name, exercice, None,
                                               nomen).rows_read
                return _parse_cer(_read_grid(wb, name), name, exercice, None).rows_read
            return 0

        def rows_held() -> int:
            """The rows of a refused file: its Action sheet, and every participant or CER row
            of every sheet that may hold them."""
            return 1 + sum(rows_in(canon, name) for canon in (SHEET_PARTICIPANTS, SHEET_CER)
                           for name in matches.get(canon, []))

        def ambiguous(canon: str) -> _FileRejected | None:
            names = matches.get(canon, [])
            if len(names) < 2:
                return None
            listed = ", ".join(f"« {n} »" for n in names)
            return _AmbiguousSheets(
                f"plusieurs feuilles {canon} : {listed} (une seule attendue)", sheet=names[1])

        try:
            if action_sheet is None:
                raise _FileRejected("feuille Action introuvable")
            if exc := ambiguous(SHEET_ACTION):
                raise exc
            action, them = _parse_action(
                _read_grid(wb, action_sheet), action_sheet, exercice, nomen
            )
        except _FileRejected as exc:
            # count what the file holds, all rejected
            return _rejected(
                exc.reason, rows_held(), exc.num, exc.sheet, exc.column, exc.value,
                exercice=exercice,
            )

        num = action["num_convention"]
        period = (action["date_debut"], action["date_fin"])
        needed = ([SHEET_PARTICIPANTS] if them.nature == "accompagnement" else []) + (
            [SHEET_CER] if them.code == "RU" else [])
        # participant or CER tables in sheets the action does not read (a copy 'Participants
        # (2)', a partnership's Participants, participants typed in a sheet named CER): not
        # read, said so on the file's record, or the file refused when the kit's own sheet is
        # missing or empty. canon -> [(sheet, rows, hidden)]
        sheets_read = {action_sheet} | {sheets.get(canon) for canon in needed}
        kit_names = {n for names in matches.values() for n in names}
        hidden: set[str] = set()
        with contextlib.suppress(Exception):  # visibility unknown: every sheet counts as shown
            hidden = {m.name for m in _calamine(lambda: wb.sheets_metadata)
                      if m.visible != SheetVisibleEnum.Visible}
        elsewhere: dict[str, list[tuple[str, int, bool]]] = {}
        for name in wb.sheet_names:
            if name in sheets_read or not (
                name in kit_names or _TABLE_SHEET_NAME.search(normalize_label(name))
            ):
                continue
            with contextlib.suppress(_FileRejected):  # an unreadable extra sheet: not a table
                for canon, n in _tables_in(_read_grid(wb, name)):
                    elsewhere.setdefault(canon, []).append((name, n, name in hidden))
        tables: list[tuple[str, _TableResult]] = []
        try:
            for canon in needed:
                if exc := ambiguous(canon):
                    raise exc
            if them.nature == "accompagnement":
                if part_sheet is None:
                    raise _FileRejected(
                        f"feuille Participants introuvable (obligatoire pour une action "
                        f"d'accompagnement, thématique {them.code})"
                        + _elsewhere_hint(SHEET_PARTICIPANTS, elsewhere.get(SHEET_PARTICIPANTS))
                    )
                tables.append(
                    (
                        "participants",
                        _parse_participants(
                            _read_grid(wb, part_sheet), part_sheet, exercice, num, nomen, period
                        ),
                    )
                )
            if them.code == "RU":
                if cer_sheet is None:
                    raise _FileRejected("feuille CER introuvable (obligatoire pour une action RU)"
                                        + _elsewhere_hint(SHEET_CER, elsewhere.get(SHEET_CER)))
                tables.append(
                    ("cer", _parse_cer(_read_grid(wb, cer_sheet), cer_sheet, exercice, num,
                                       period))
                )
        except _FileRejected as exc:
            # a missing sheet's table elsewhere holds the file's rows too: refused with it
            n = rows_held() if isinstance(exc, _AmbiguousSheets) else (
                1 + sum(t.rows_read for _, t in tables)
                + sum(k for canon in needed for _, k, _ in elsewhere.get(canon, [])))
            return _rejected(
                exc.reason, n, num, exc.sheet, exc.column, exc.value, exercice=exercice
            )
        for kind, t in tables:
            if t.header_error is not None:
                n = 1 + sum(tt.rows_read for _, tt in tables)
                sheet = part_sheet if kind == "participants" else cer_sheet
                reason, column, row = t.header_error
                return _rejected(reason, n, num, sheet, column, None, exercice=exercice, row=row)
        for kind, t in tables:
            # the kit's sheet empty, the rows in another one: published with none, the action
            # would count no one (as with two sheets of the kit's names, the file is refused).
            # A hidden sheet (an example row the operator does not see) is only said.
            canon = SHEET_PARTICIPANTS if kind == "participants" else SHEET_CER
            shown = [e for e in elsewhere.get(canon, []) if not e[2]]
            if not t.rows_read and shown:
                n = 1 + sum(tt.rows_read for _, tt in tables) + sum(k for _, k, _ in shown)
                return _rejected(
                    f"feuille « {sheets[canon]} » vide" + _elsewhere_hint(canon, shown), n,
                    num, sheets[canon], None, None, exercice=exercice)
        # the tables found elsewhere are not read (a partnership's Participants: the wrong
        # thematic code, perhaps; a copy), but said so on the file's record (and by the
        # feuilles_non_lues check)
        ignored = []
        for canon in _TABLE_OF:
            why = (f"seule la feuille « {sheets[canon]} » est lue" if canon in needed
                   else f"une action {them.code} n'a pas de feuille {canon}")
            what = _TABLE_OF[canon]
            for name, n, is_hidden in elsewhere.get(canon, []):
                ignored.append(f"feuille « {name} »{' (masquée)' if is_hidden else ''} non lue "
                               f"({_lines(n)} {what}) : {why}")

    participants: list[tuple] = []
    cer: list[tuple] = []
    rejets: list[Rejet] = []
    refused_ids: set[str] = set()
    read = 1
    for kind, t in tables:
        (participants if kind == "participants" else cer).extend(t.rows)
        rejets.extend(t.rejets)
        refused_ids |= t.refused_ids
        read += t.rows_read
    if rejets:
        rejets = _mask_identifiers(rejets, participants, cer, refused_ids)
    loaded = 1 + len(participants) + len(cer)
    return CompactWorkbook(
        exercice=exercice,
        num_convention=num,
        action=action,
        participants_sheet=part_sheet if participants else None,
        participants=participants,
        cer_sheet=cer_sheet if cer else None,
        cer=cer,
        rejets=rejets,
        rows_read=read,
        rows_loaded=loaded,
        rows_rejected=read - loaded,
        file_rejected=False,
        detail="; ".join(ignored) or None,
    )
