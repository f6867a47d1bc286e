"""Normalisation of labels and French-formatted cell values.

Why this module exists: operators fill the reporting kit by hand, in Excel or
LibreOffice, so the same label or value arrives in many spellings ("N° CONVENTION :",
"n° convention"; "2,5" / "2.5" / 2.5; a date cell or the text "4/3/2017"). Every
parser of the pipeline goes through these few functions so that the tolerance rules
live in one place. Each ``parse_*`` function returns a typed value or raises
:class:`ValeurInvalide` (a ``ValueError``) whose message is a plain-French reason
that never repeats the offending value (it may be personal data): callers put the
value, suitably protected, in the rejection record themselves.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache

__all__ = [
    "ValeurInvalide",
    "normalize_label",
    "label_table",
    "lookup_label",
    "parse_french_decimal",
    "parse_french_amount",
    "written_with_cents",
    "parse_date",
    "parse_siret",
    "parse_oui_non",
    "parse_whole_number",
    "canonical_identifiant",
    "is_total_label",
    "parse_identifiant",
    "parse_num_convention",
    "convention_in_name",
    "hash_identifiant",
    "is_blank",
    "cell_to_text",
]


class ValeurInvalide(ValueError):
    """A cell value that cannot be read; ``str(exc)`` is a plain-French reason."""


_DATE = _dt.date
_DATETIME = _dt.datetime
_EXCEL_EPOCH = _dt.date(1899, 12, 30)  # Excel/LibreOffice serial day 0 (1900 system)
_MIN_YEAR, _MAX_YEAR = 1900, 2099

_NON_ALNUM = re.compile(r"[\W_]+")
# a number cell's reading kept as text by a copy ('1234567.0' from a CSV, '1234567,0')
_INTEGRAL_TEXT = re.compile(r"(\d+)[.,]0+")
# spaces that may separate thousands or surround values
_SPACES = re.compile(r"[\s\u00a0\u202f\u2007\u2009]+")
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2012": "-"})
_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
# digits with spaces between them: thousands separators, which must group digits by three
_SPACED_DIGITS = re.compile(r"\d+(?:[\s\u00a0\u202f\u2007\u2009]+\d+)+")
# a text date may carry a time of day ('04/03/2017 00:00:00', '04/03/2017 10h', an ISO time with
# its zone '2017-03-04T09:30:00Z'), nothing else: '04/03/2017 au 05/06/2018' is a period
_TIME = (
    r"(?:[ T]\s*\d{1,2}(?:[:h]\d{2}(?::\d{2}(?:[.,]\d+)?)?|h)\s*(?:Z|[+-]\d{2}:?\d{2})?\s*)?"
)
_DATE_FR = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})" + _TIME)
_DATE_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME)
_SIRET_NOISE = re.compile(r"[\s\u00a0\u202f\u2007\u2009.\-]+")
_CONVENTION = re.compile(r"PDI\s*[-_\u2010-\u2013 ]?\s*(\d{4})\s*[-_\u2010-\u2013 ]?\s*(\d{4,})")
# in a file name, also 1 to 3 digits after a separator (zero-padded): 'PDI2019_4_…'
_CONVENTION_IN_NAME = re.compile(
    r"PDI\s*[-_\u2010-\u2013 ]?\s*(\d{4})\s*"
    r"(?:[-_\u2010-\u2013 ]?\s*(\d{4,})|[-_\u2010-\u2013 ]\s*(\d{1,3})(?!\d))"
)


@lru_cache(maxsize=16384)
def normalize_label(s: str) -> str:
    """Canonical form of a label: accents removed, casefolded, punctuation → space.

    ``normalize_label("N° CONVENTION :") == "n convention"`` and
    ``normalize_label("Intitulé de l'action") == "intitule de l action"``.
    """
    if not isinstance(s, str):
        s = str(s)
    if not s.isascii():
        s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", s.casefold()).strip()


def label_table(fields: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    """Each spelling's normalised label → its field (``fields``: field → (label, spellings)),
    and the same without spaces, for :func:`lookup_label`.

    The contract matches labels ignoring punctuation: 'E.T.P. mobilisés' is 'ETP mobilisés'
    and 'Intitulé de laction' is 'Intitulé de l'action', while punctuation read as a space
    ('N°convention' is 'N° convention') needs the spaced form. The space-less form is looked up
    only when the spaced one is unknown; two fields never share one (checked here).
    """
    table: dict[str, str] = {}
    for field_name, (_, spellings) in fields.items():
        for spelling in spellings:
            table.setdefault(normalize_label(spelling), field_name)
    for key, field_name in list(table.items()):
        compact = key.replace(" ", "")
        if table.setdefault(compact, field_name) != field_name:
            raise AssertionError(f"label {key!r} of {field_name} reads as another field's")
    return table


def lookup_label(text: str, table: dict[str, str]) -> str | None:
    """The field ``text`` names in a :func:`label_table`, or None."""
    label = normalize_label(text)
    return table.get(label) or table.get(label.replace(" ", ""))


def is_blank(value: object) -> bool:
    """True for an empty cell: None, '' or a whitespace-only string."""
    if value is None or value == "":
        return True
    return type(value) is str and not value.strip()


def cell_to_text(value: object) -> str | None:
    """Render a cell for a rejection record (dates as ISO, integral floats without .0)."""
    if value is None:
        return None
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "VRAI" if value else "FAUX"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (_DATE, _dt.time)):
        return value.isoformat()
    return str(value)


def hash_identifiant(value: object) -> str | None:
    """Pseudonymised rendering of a participant identifier for rejection records."""
    if is_blank(value):
        return None
    try:
        text = parse_identifiant(value)
    except ValeurInvalide:
        text = str(value)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _finite_number(value: object) -> float | None:
    """The numeric value of an int/float cell (not bool), else None."""
    t = type(value)
    if t is float or t is int:
        if t is float and not math.isfinite(value):  # type: ignore[arg-type]
            raise ValeurInvalide("nombre non fini")
        return float(value)  # type: ignore[arg-type]
    return None


def _clean_number_text(text: str) -> str:
    """French number text → Python decimal text ('1 234,5' → '1234.5').

    Spaces between digits are thousands separators only when they group the integer part by
    three ('33 954,74', '1 234 567'): '33 9' (an export cut in the middle of '33 954,74') or
    '12 34,50' is refused, never read as 339 or 1234.50 (finance export review: a truncated
    export published a payment of 339 € instead of 33,954.74 €, silently)."""
    spaced = _SPACED_DIGITS.findall(text)
    if spaced:
        groups = spaced[0].split()
        head = text[: text.find(spaced[0])]
        if (len(spaced) > 1 or "," in head or "." in head or not 1 <= len(groups[0]) <= 3
                or any(len(g) != 3 for g in groups[1:])):
            raise ValeurInvalide("nombre illisible (chiffres séparés par des espaces hors "
                                 "groupes de trois)")
    s = _SPACES.sub("", text.translate(_MINUS))
    for unit in ("€", "EUR", "eur", "Eur"):
        if s.endswith(unit):
            s = s[: -len(unit)]
    if s.startswith("(") and s.endswith(")"):  # accounting negative
        s = "-" + s[1:-1]
    if s.endswith("-") and len(s) > 1 and s[0] not in "+-":  # trailing minus
        s = "-" + s[:-1]
    if s.startswith("+"):
        s = s[1:]
    comma, dot = s.rfind(","), s.rfind(".")
    if comma >= 0 and dot >= 0:
        if comma > dot:  # 1.234,5
            s = s.replace(".", "").replace(",", ".")
        else:  # 1,234.5
            s = s.replace(",", "")
    elif comma >= 0:
        if s.count(",") > 1:
            raise ValeurInvalide("nombre illisible")
        s = s.replace(",", ".")
    if not _DECIMAL_TEXT.fullmatch(s):
        raise ValeurInvalide("nombre illisible")
    return s


def written_with_cents(text: str) -> bool:
    """Whether an amount's text writes its two decimals ('12 345,67', '(250,00)', '250,00-',
    '-1234.50 €'); False for '1 000', '33 954,7' or text that is no number."""
    try:
        return re.search(r"\.\d{2}$", _clean_number_text(text)) is not None
    except ValeurInvalide:
        return False


def parse_french_decimal(value: object) -> float:
    """A decimal number: numeric cell, or text '2,5', '2.5', '1 234,5' (space/NBSP thousands)."""
    num = _finite_number(value)
    if num is not None:
        return num
    if type(value) is not str:
        raise ValeurInvalide("nombre attendu")
    if not value.strip():
        raise ValeurInvalide("valeur manquante")
    result = float(_clean_number_text(value))
    if not math.isfinite(result):
        raise ValeurInvalide("nombre non fini")
    return result


_CENTS = Decimal("0.01")
_MAX_AMOUNT = Decimal(10) ** 12  # DECIMAL(14, 2)


def parse_french_amount(value: object) -> Decimal:
    """Euros with cents as a Decimal with 2 places: '12 345,67', '-1 234,00', 12.5."""
    num = _finite_number(value)
    if num is not None:
        if abs(num) >= 1e12:
            raise ValeurInvalide("montant hors limites")
        amount = Decimal(repr(num)).quantize(_CENTS)
    elif type(value) is str:
        if not value.strip():
            raise ValeurInvalide("montant manquant")
        try:
            text = _clean_number_text(value)
        except ValeurInvalide as exc:  # 'nombre illisible (…)' said of an amount
            raise ValeurInvalide(str(exc).replace("nombre", "montant", 1)) from None
        try:
            amount = Decimal(text)
        except InvalidOperation:  # pragma: no cover - regex already guards
            raise ValeurInvalide("montant illisible") from None
        if amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValeurInvalide("montant avec plus de deux décimales")
        if abs(amount) >= _MAX_AMOUNT:
            raise ValeurInvalide("montant hors limites")
        amount = amount.quantize(_CENTS)
    else:
        raise ValeurInvalide("montant attendu")
    if abs(amount) >= _MAX_AMOUNT:
        raise ValeurInvalide("montant hors limites")
    return amount + 0  # turns -0.00 into 0.00


def _checked_date(year: int, month: int, day: int) -> _dt.date:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise ValeurInvalide("date hors de la plage plausible (1900-2099)")
    try:
        return _dt.date(year, month, day)
    except ValueError:
        raise ValeurInvalide("date inexistante") from None


@lru_cache(maxsize=8192)
def _date_from_text(value: str) -> _dt.date:
    """Text date (cached: a sheet repeats the same few hundred dates)."""
    text = value.strip()
    if not text:
        raise ValeurInvalide("date manquante")
    m = _DATE_FR.fullmatch(text)
    if m:
        return _checked_date(int(m[3]), int(m[2]), int(m[1]))
    m = _DATE_ISO.fullmatch(text)
    if m:
        return _checked_date(int(m[1]), int(m[2]), int(m[3]))
    raise ValeurInvalide("date illisible (attendu JJ/MM/AAAA)")


def parse_date(value: object) -> _dt.date:
    """A date: date/datetime cell, Excel serial number, text JJ/MM/AAAA or AAAA-MM-JJ."""
    t = type(value)
    if t is _DATE:
        d = value
    elif t is _DATETIME or isinstance(value, _DATE):
        d = value.date() if isinstance(value, _DATETIME) else value  # type: ignore[union-attr]
    elif t is str:
        return _date_from_text(value)  # type: ignore[arg-type]
    elif t is float or t is int:
        if not math.isfinite(value) or not 1 <= value < 2958466:  # type: ignore[operator]
            raise ValeurInvalide("date illisible (numéro de série hors limites)")
        d = _EXCEL_EPOCH + _dt.timedelta(days=int(value))  # type: ignore[arg-type]
    else:
        raise ValeurInvalide("date illisible")
    if not _MIN_YEAR <= d.year <= _MAX_YEAR:  # type: ignore[union-attr]
        raise ValeurInvalide("date hors de la plage plausible (1900-2099)")
    return d  # type: ignore[return-value]


def parse_siret(value: object) -> str:
    """A SIRET: 14 digits once spaces/NBSP/dots are removed; a numeric cell is accepted."""
    num = _finite_number(value)
    if num is not None:
        if not num.is_integer() or not 0 < num < 1e14:
            raise ValeurInvalide("SIRET invalide (14 chiffres attendus)")
        digits = str(int(num))
        if len(digits) == 13:  # a number cell lost the leading zero
            digits = "0" + digits
    elif type(value) is str:
        digits = _SIRET_NOISE.sub("", value)
        if not digits:
            raise ValeurInvalide("SIRET manquant")
    else:
        raise ValeurInvalide("SIRET invalide (14 chiffres attendus)")
    if len(digits) != 14 or not digits.isascii() or not digits.isdigit():
        raise ValeurInvalide("SIRET invalide (14 chiffres attendus)")
    return digits


OUI_NON_FAST = {"Oui": True, "Non": False, "oui": True, "non": False, "OUI": True, "NON": False}
_OUI = frozenset({"oui", "o", "yes", "y", "true", "vrai", "1", "x"})
_NON = frozenset({"non", "n", "no", "false", "faux", "0"})


def parse_oui_non(value: object) -> bool | None:
    """Oui/Non (o/n, yes/no, true/false, vrai/faux, 1/0, boolean cell); blank → None."""
    t = type(value)
    if t is str:
        fast = OUI_NON_FAST.get(value)  # type: ignore[call-overload]
        if fast is not None:
            return fast
    if t is bool:
        return value  # type: ignore[return-value]
    if t is str:
        key = normalize_label(value)  # cached: few distinct spellings
        if key in _OUI:
            return True
        if key in _NON:
            return False
        if not key and not value.strip():  # type: ignore[union-attr]
            return None
        raise ValeurInvalide("valeur Oui/Non illisible")
    if value is None:
        return None
    if t is float or t is int:
        if value == 1:
            return True
        if value == 0:
            return False
    raise ValeurInvalide("valeur Oui/Non illisible")


# '12.000' or '1.500': a dot before exactly three digits is a thousands separator to some, a
# decimal point to others (12 or 12 000?): refused, never guessed
_DOT_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+")
# '12,000' in a whole-number cell: twelve in French, twelve thousand in English (probe review:
# it was read as 12 while '12.000' was refused)
_COMMA_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+")


def parse_whole_number(value: object) -> int:
    """A whole number ≥ 0: numeric cell or text ('1 234', '12,0'); not '12.000' nor '12,000'
    (ambiguous)."""
    if type(value) is str:
        if not value.strip():
            raise ValeurInvalide("nombre entier manquant")
        for pattern, mark in ((_DOT_THOUSANDS, "point"), (_COMMA_THOUSANDS, "virgule")):
            if pattern.fullmatch(value.strip()):
                raise ValeurInvalide(
                    f"nombre entier ambigu ({mark} avant trois chiffres : milliers ou "
                    "décimales ?), écrire 12000 ou 12 000"
                )
    try:
        num = parse_french_decimal(value)
    except ValeurInvalide:
        raise ValeurInvalide("nombre entier illisible") from None
    if not num.is_integer():
        raise ValeurInvalide("nombre entier attendu (pas de décimales)")
    if num < 0:
        raise ValeurInvalide("nombre entier positif ou nul attendu")
    return int(num)


# a total line's label, once normalised: 'Total', 'TOTAL général', 'Totaux', 'Sous-total',
# 'Sous total CER'… (operators' workbooks and the finance export alike)
_TOTAL_WORDS = ("total", "totaux", "sous total", "sous totaux")


def is_total_label(norm: str) -> bool:
    """Whether a label already passed through :func:`normalize_label` names a total line."""
    return any(norm == w or norm.startswith(w + " ") for w in _TOTAL_WORDS)


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def canonical_identifiant(text: str) -> str:
    """One spelling per identifier, so that a person counts once across workbooks.

    Operators type the same pseudonymised number in several ways: as a number cell (1234567),
    as text with the zeros a number cell drops ('0001234567'), with spaces ('1 234 567', a
    no-break space from a copy), in lower or upper case ('ab12' / 'AB12'), or as the text a
    number cell became in another tool ('1234567.0', pasted from a CSV). The marts count
    distinct people across conventions (CER), so these must be one identifier: whitespace
    removed, ASCII letters upper-cased, a whole number's '.0' (or ',0') dropped, and for an
    identifier made only of ASCII digits, its leading zeros dropped (a number cell's reading).
    This assumes pseudonyms never differ only by their leading zeros (a fixed-width number, as a
    number cell cannot keep them anyway) nor by a trailing '.0'. Empty text stays empty (a
    missing identifier).
    """
    t = "".join(text.split())
    if t.isascii():
        m = _INTEGRAL_TEXT.fullmatch(t)
        if m:
            t = m[1]
        if t.isdigit():
            return t.lstrip("0") or "0"
        return t.upper()
    # only ASCII letters change case: str.upper() would make 'ß1' and 'SS1' one person
    return t.translate(_ASCII_UPPER)


def parse_identifiant(value: object) -> str:
    """A pseudonymised identifier as text, canonical (:func:`canonical_identifiant`); a numeric
    cell 1234567.0 becomes '1234567'."""
    t = type(value)
    if t is str:
        text = canonical_identifiant(value)  # type: ignore[arg-type]
        if not text:
            raise ValeurInvalide("identifiant manquant")
        return text
    if t is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise ValeurInvalide("identifiant illisible")
        return str(int(value)) if value.is_integer() else repr(value)  # type: ignore[union-attr]
    if t is int:
        return str(value)
    if value is None:
        raise ValeurInvalide("identifiant manquant")
    raise ValeurInvalide("identifiant illisible (texte ou nombre attendu)")


def convention_in_name(name: str) -> tuple[str, int] | None:
    """The convention number a file name carries, if any: 'Bilan pdi_2017_0176 v2.xlsx' →
    ('PDI-2017-0176', 2017). Only a hint: the spec leaves file names free, so it never stands
    for the Action sheet's number of a workbook that was read; a workbook that could not be
    opened at all takes part under it (the newest workbook of a convention counts, refused or
    not: discovery.convention_candidate), and a refused one is named by it in messages.
    A short number after a separator counts too, as the Département's own file names write it
    ('PDI2019_4_scop_declic.xlsx' → 'PDI-2019-0004'; a cold review's truncated copy of it went
    unrecognised)."""
    m = _CONVENTION_IN_NAME.search(name.upper())
    if not m:
        return None
    return f"PDI-{m[1]}-{m[2] or m[3].zfill(4)}", int(m[1])


def parse_num_convention(value: object) -> tuple[str, int]:
    """'pdi-2017-0001' → ('PDI-2017-0001', 2017). Separators '-', '_' or space tolerated."""
    if type(value) is not str:
        raise ValeurInvalide("N° convention invalide (attendu PDI-AAAA-NNNN)")
    m = _CONVENTION.fullmatch(value.strip().upper())
    if not m:
        if not value.strip():
            raise ValeurInvalide("N° convention manquant")
        raise ValeurInvalide("N° convention invalide (attendu PDI-AAAA-NNNN)")
    return f"PDI-{m[1]}-{m[2]}", int(m[1])
