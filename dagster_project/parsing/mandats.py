"""Finance export (``finances/mandats_<exercice>.csv``) → typed payment rows and rejections.

Why this module exists: the accounting software writes a ``;``-separated, Windows-1252
CSV with French numbers and dates (contract: /work/shared/spec/raw-inputs.md,
section 2). This module decodes it (tolerating a UTF-8 export, with or without BOM),
matches header labels through :func:`normalize_label` (columns in any order) and
refuses, line by line, what cannot be loaded. A file that cannot be read at all, or
lacks a column, is refused whole (one ``Rejet`` with ``row_number=None``, every data
line counted as rejected). Whether a convention exists is checked later by the loader,
which sees all workbooks. A refused line keeps its amount and mandate number when they can be
read: money paid that the bilan may not count (``dagster_project.paiements``).

``source_row`` is the 1-based line number in the file (header = line 1). Never raises.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

from .models import MandatsResult, Rejet
from .normalize import (
    ValeurInvalide,
    is_total_label,
    label_table,
    lookup_label,
    normalize_label,
    parse_date,
    parse_french_amount,
    parse_num_convention,
    parse_siret,
    parse_whole_number,
    written_with_cents,
)

__all__ = ["AUTRE_EXERCICE", "DOUBLON", "parse_mandats"]

# how the refusals of a mandate number already loaded (in this export or another) begin
DOUBLON = "N° mandat en double"
# how the refusal of another exercise's mandate begins: not money of this exercise's bilan
AUTRE_EXERCICE = "exercice du mandat"

_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "exercice": ("Exercice", ("Exercice", "Année", "Exercice budgétaire")),
    "num_mandat": (
        "N° mandat",
        ("N° mandat", "N° de mandat", "No mandat", "Numéro mandat", "Numéro de mandat", "Mandat"),
    ),
    "date_emission": (
        "Date d'émission",
        ("Date d'émission", "Date émission", "Date d'emission du mandat"),
    ),
    "num_convention": (
        "N° convention",
        (
            "N° convention",
            "N° de convention",
            "No convention",
            "Numéro convention",
            "Numéro de convention",
            "Convention",
        ),
    ),
    "tiers": ("Tiers", ("Tiers", "Nom du tiers", "Bénéficiaire")),
    "siret": ("SIRET", ("SIRET", "N° SIRET", "SIRET tiers")),
    "nature": ("Nature", ("Nature", "Nature du mandat", "Type")),
    "montant": ("Montant", ("Montant", "Montant (€)", "Montant TTC", "Montant en euros")),
}
_REQUIRED = tuple(_FIELDS)
_KEYS = label_table(_FIELDS)
_NATURES = {n.lower(): n for n in ("Avance", "Solde", "Avenant", "Annulation")}


_MONTANT_SEUL = ("ligne sans N° mandat, date, convention, tiers, SIRET ni nature : un total ? "
                 "(son montant n'est pas celui d'un paiement)")


_COUPE = ("Montant sans ses deux décimales, sur la dernière ligne, que ne suit aucune fin de "
          "ligne, d'un export qui les écrit partout ailleurs : l'export semble coupé (le "
          "renvoyer en entier) ; son montant n'est pas compté")


def _is_total_line_label(norm: str) -> bool:
    """A total's label in an export (normalised): the workbooks' ('Total…', 'Sous-total…'), and
    the subtotals a spreadsheet writes ('PDI-2017-0001 Total', 'Grand Total', 'Somme')."""
    return (is_total_label(norm) or norm.endswith(" total") or norm == "somme"
            or norm.startswith("somme "))


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:  # UTF-8 (with or without its mark), or ASCII: cp1252 accents practically never form
        return data.decode("utf-8")  # valid UTF-8
    except UnicodeDecodeError:
        pass
    # Windows-1252, or both: a UTF-8 file with lines pasted from a Windows-1252 one (it raised
    # UnicodeDecodeError after a UTF-8 mark, the whole export refused, its payments counted
    # nowhere: finance export review). Each line in the encoding it is valid in.
    return "".join(_decode_line(line) for line in data.splitlines(keepends=True))


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        return line.decode("latin-1")  # the 5 bytes cp1252 leaves undefined


def _count_data_lines(lines: list[tuple[int, list[str] | None]]) -> int:
    return sum(1 for _, f in lines if f is None or any(x.strip() for x in f))


def parse_mandats(path: Path, *, exercice: int) -> MandatsResult:
    """Parse one finance export. Never raises."""
    try:
        return _parse(Path(path), int(exercice))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001
        return _rejected(f"erreur inattendue: {type(exc).__name__}", 0)


def _amount_or_none(raw: str) -> Decimal | None:
    """The amount of a refused line, when it can be read: what the bilan may not count."""
    try:
        return parse_french_amount(raw)
    except ValeurInvalide:
        return None


def _convention_or_none(raw: str) -> str | None:
    """The convention of a line refused for another cell, when it is well-formed: which
    convention's money the bilan does not count (``paiements_non_comptes``)."""
    try:
        return parse_num_convention(raw)[0]
    except ValeurInvalide:
        return None


def _rejected(reason: str, n: int, column: str | None = None) -> MandatsResult:
    return MandatsResult(
        rows=[],
        rejets=[Rejet(None, None, column, None, reason)],
        rows_read=n,
        rows_loaded=0,
        rows_rejected=n,
        file_rejected=True,
    )


def _is_separator_hint(fields: list[str]) -> bool:
    """Excel's 'sep=;' first line, which names the delimiter: not the header."""
    return bool(fields) and fields[0].strip().lower().startswith("sep=") and not any(
        x.strip() for x in fields[1:]
    )


def _unquoted(field: str) -> str:
    """A field read without quoting, as the CSV reader gives it when it was quoted alone."""
    f = field.strip()
    if len(f) >= 2 and f[0] == f[-1] == '"':
        return f[1:-1].replace('""', '"')
    return field


# why a line is refused when it cannot be cut into fields
ILLISIBLE = ("ligne illisible : un guillemet y est ouvert sans être fermé et, lue sans "
             "guillemets, elle n'a pas les colonnes de l'en-tête")


def _delimiter(text: str) -> str:
    """The export's delimiter: ';' (the kit's), else a tab or ',' if the first line has one."""
    first_line = text.split("\n", 1)[0]
    if ";" not in first_line:
        if "\t" in first_line:
            return "\t"
        if "," in first_line:
            return ","
    return ";"


def _read_lines(text: str, delimiter: str) -> list[tuple[int, list[str] | None]]:
    """(1-based line number, fields) for every record of the file; fields None for a line that
    cannot be cut into fields (refused by the caller, with its number).

    A quoted field may span lines (CSV allows it), but a quote the software did not close (a
    payee's name cut after its opening quote) would swallow the next lines into one record,
    and a later stray quote would end it: the record would look whole, with the first line's
    mandate and the last line's amount, and the lines between lost. So a record spanning
    several lines is kept only when it has the header's number of fields and none of its lines
    has as many delimiters as a whole record (the lines of one record, cut by a line break in a
    quoted value, each have fewer); otherwise each of its lines is read on its own.
    A line whose quotes do not balance is read without quoting, and kept only when that gives
    the header's number of fields (its columns could otherwise be shifted: a SIRET read as an
    amount).
    """
    physical = io.StringIO(text, newline="").readlines()
    width: int | None = None  # the header's number of fields: the first non-blank record's

    def alone(i: int) -> tuple[int, list[str] | None]:
        line = physical[i - 1].rstrip("\r\n")
        if line.count('"') % 2:
            fields = [_unquoted(x) for x in line.split(delimiter)]
            if width is not None and len(fields) > width and not any(
                x.strip() for x in fields[width:]
            ):
                fields = fields[:width]  # trailing delimiters, as the header may lack them
            return i, fields if len(fields) == width else None
        try:
            return i, next(csv.reader([line], delimiter=delimiter, quotechar='"'), [])
        except csv.Error:  # e.g. a field over csv's size limit
            return i, None

    out: list[tuple[int, list[str] | None]] = []
    try:
        reader = csv.reader(iter(physical), delimiter=delimiter, quotechar='"')
        start = 1
        for fields in reader:
            end = reader.line_num
            if width is None and any(x.strip() for x in fields) and not _is_separator_hint(
                fields
            ):
                width = len(fields)
            # a quote left open on the file's last line: a one-line record, read to its end
            unclosed = end == start and physical[start - 1].count('"') % 2
            swallowed = end > start and (len(fields) != width or any(
                len(physical[i - 1].split(delimiter)) >= width for i in range(start, end + 1)
            ))
            if width is not None and (unclosed or swallowed):
                out.extend(alone(i) for i in range(start, end + 1))
            else:
                out.append((start, fields))
            start = end + 1
    except csv.Error:  # a field over csv's size limit (lines swallowed by a quote): line by line
        out = [alone(i) for i in range(1, len(physical) + 1)]
    return out


def _parse(path: Path, exercice: int) -> MandatsResult:
    try:
        data = path.read_bytes()
    except OSError:
        return _rejected("fichier illisible", 0)
    if not data.strip():
        return _rejected("fichier vide", 0)
    if b"\x00" in data[:4096] or data.startswith(b"PK\x03\x04"):
        return _rejected("ce fichier n'est pas un export CSV (contenu binaire)", 0)
    text = _decode(data)
    delimiter = _delimiter(text)
    lines = _read_lines(text, delimiter)

    # header: first non-blank line (an Excel "sep=;" hint line is skipped)
    h = 0
    while h < len(lines) and lines[h][1] is not None and (
        not any(x.strip() for x in lines[h][1]) or _is_separator_hint(lines[h][1])
    ):
        h += 1
    if h == len(lines) or lines[h][1] is None:
        if h == len(lines):
            return _rejected("fichier vide", 0)
        return _rejected("ligne d'en-tête illisible", _count_data_lines(lines[h + 1 :]))
    found: dict[str, list[int]] = {}
    for i, label in enumerate(lines[h][1]):
        key = lookup_label(label, _KEYS)
        if key is not None:
            found.setdefault(key, []).append(i)
    data_lines = lines[h + 1 :]
    # Two columns for one field ('Année' and 'Exercice', 'Type' and 'Nature'): the one the
    # contract names counts, the other is an extra column; with none of them named so, which
    # one to read is a guess: refused, naming both (the first was read: probe review)
    cols: dict[str, int] = {}
    for key, where in found.items():
        if len(where) > 1:
            exact = [i for i in where
                     if normalize_label(lines[h][1][i]) == normalize_label(_FIELDS[key][0])]
            if len(exact) != 1:
                names = " et ".join(f"« {lines[h][1][i].strip()} »" for i in where)
                return _rejected(
                    f"plusieurs colonnes pour « {_FIELDS[key][0]} » ({names}) : laquelle "
                    "lire ? n'en garder qu'une, ou renommer l'autre",
                    _count_data_lines(data_lines), _FIELDS[key][0],
                )
            where = exact
        cols[key] = where[0]
    missing = [_FIELDS[k][0] for k in _REQUIRED if k not in cols]
    if missing:
        names = ", ".join(f"« {m} »" for m in missing)
        plural = "s" if len(missing) > 1 else ""
        return _rejected(
            f"colonne{plural} obligatoire{plural} {names} introuvable{plural} "
            "dans la ligne d'en-tête",
            _count_data_lines(data_lines),
            missing[0],
        )

    ce, cn, cd, cc, ct, cs, cna, cm = (cols[k] for k in _REQUIRED)
    width = max(cols.values()) + 1
    header_width = len(lines[h][1])
    delim = {"\t": "tabulation"}.get(delimiter, delimiter)  # as said in a refusal
    rows: list[dict] = []
    rejets: list[Rejet] = []
    seen: set[str] = set()
    read = 0
    # The file's last record when no line ending follows it: the export may have been cut inside
    # it (a copy or a download stopped short). A cut in its amount still reads as one
    # ('33 954,74' cut to '33 954,7' or '33 954'): checked below against the export's own way
    # of writing amounts. A last line merely lacking its line ending is read as any other.
    cut = data_lines[-1][0] if data_lines and not text.endswith(("\n", "\r")) else None
    ending = text.rstrip(" \t")  # the file's last characters: the cut amount's, if cut there
    with_cents = 0  # amounts of the other lines written with their two decimals, and not
    without_cents = 0

    def cut_amount(lineno: int, raw: str) -> bool:
        """Whether ``raw`` is an amount the export's cut may have shortened: on the cut last
        record, ending the file, without the two decimals every other amount of the export
        writes (at least one other)."""
        return (lineno == cut and bool(raw.strip()) and ending.endswith(raw.rstrip())
                and not written_with_cents(raw) and with_cents > 0 and not without_cents)
    L = {k: v[0] for k, v in _FIELDS.items()}  # noqa: N806
    for lineno, fields in data_lines:
        if fields is None:
            read += 1
            rejets.append(Rejet(None, lineno, None, None, ILLISIBLE))
            continue
        if not any(x.strip() for x in fields):
            continue  # blank line
        if len(fields) < width:
            fields = fields + [""] * (width - len(fields))
        at = next(i for i, x in enumerate(fields) if x.strip())
        totals = {i for i in {at, cn, cc} if fields[i].strip()
                  and _is_total_line_label(normalize_label(fields[i]))}
        if totals and all(i in totals or not fields[i].strip() for i in (cn, cc)):
            # a Total line: nothing but a total's label (in whichever column comes first, or
            # under the mandate or the convention: a spreadsheet's '2017;TOTAL;…', 'PDI-2017-0001
            # Total', 'Grand Total', 'Somme') stands where a mandate number or a convention would;
            # a payee named 'Total …' on a payment line has its mandate
            continue
        read += 1
        if all(not fields[i].strip() for i in (cn, cd, cc, ct, cs, cna)):
            # an amount alone (a '=SOMME()' row left unlabelled): no payment, whose amount would
            # be stated as money not counted (the export's whole total, twice: finance export
            # review); refused, its amount not taken for a payment's
            rejets.append(Rejet(None, lineno, L["num_mandat"], None, _MONTANT_SEUL))
            continue
        if any(x.strip() for x in fields[header_width:]):
            # more fields than the header: a delimiter inside an unquoted value (a payee
            # 'HORIZONS; ASSO') shifts every column after it; read as they fall, the line was
            # refused for its 'Nature' (the SIRET's value) and its amount unknown. Its amount is
            # not read either (which column holds it is a guess): the reason says why.
            n = len(fields) - next(i for i, x in enumerate(reversed(fields)) if x.strip())
            rejets.append(Rejet(
                None, lineno, None, None,
                f"ligne de {n} champs pour {header_width} colonnes d'en-tête : un « {delim} » "
                "dans une valeur non entre guillemets (le tiers ?) décale les colonnes",
                None, fields[cn].strip() or None))
            continue

        def reject(column: str, value: str | None, reason: str) -> None:
            # a cut amount is no amount paid: unknown (the line is refused for its own reason)
            montant = None if cut_amount(lineno, fields[cm]) else _amount_or_none(fields[cm])  # noqa: B023
            rejets.append(
                Rejet(None, lineno, column, value or None, reason,  # noqa: B023
                      montant, fields[cn].strip() or None,  # noqa: B023
                      _convention_or_none(fields[cc]))  # noqa: B023
            )

        num_mandat = fields[cn].strip()
        if not num_mandat:
            reject(L["num_mandat"], None, "N° mandat manquant")
            continue
        raw = fields[ce]
        try:
            ex = parse_whole_number(raw)
        except ValeurInvalide as exc:
            reject(L["exercice"], raw.strip(), f"Exercice : {exc}")
            continue
        if ex != exercice:
            reject(
                L["exercice"],
                raw.strip(),
                f"{AUTRE_EXERCICE} ({ex}) différent de celui du dossier ({exercice})",
            )
            continue
        raw = fields[cc]
        try:
            num_convention, _ = parse_num_convention(raw)
        except ValeurInvalide as exc:
            reject(L["num_convention"], raw.strip(), str(exc))
            continue
        raw = fields[cd]
        try:
            date_emission = parse_date(raw)
        except ValeurInvalide as exc:
            reject(L["date_emission"], raw.strip(), f"Date d'émission : {exc}")
            continue
        raw = fields[cna]
        nature = _NATURES.get(normalize_label(raw))
        if nature is None:
            reject(
                L["nature"],
                raw.strip(),
                "Nature inconnue (attendu Avance, Solde, Avenant ou Annulation)",
            )
            continue
        raw = fields[cm]
        try:
            montant = parse_french_amount(raw)
        except ValeurInvalide as exc:
            reject(L["montant"], raw.strip(), f"Montant : {exc}")
            continue
        if cut_amount(lineno, raw):  # its amount unknown: the one read is a cut one
            rejets.append(Rejet(None, lineno, L["montant"], raw.strip(), _COUPE, None,
                                num_mandat, num_convention))
            continue
        if written_with_cents(raw):
            with_cents += 1
        else:
            without_cents += 1
        if num_mandat in seen:
            reject(L["num_mandat"], num_mandat, f"{DOUBLON} (déjà présent plus haut)")
            continue
        seen.add(num_mandat)
        try:
            siret = parse_siret(fields[cs])
        except ValeurInvalide:
            siret = None  # informative only: the payment is still loaded
        rows.append(
            {
                "exercice": exercice,
                "num_mandat": num_mandat,
                "date_emission": date_emission,
                "num_convention": num_convention,
                "tiers": fields[ct].strip() or None,
                "siret": siret,
                "nature": nature,
                "montant": montant,
                "source_sheet": None,
                "source_row": lineno,
            }
        )
    return MandatsResult(
        rows=rows,
        rejets=rejets,
        rows_read=read,
        rows_loaded=len(rows),
        rows_rejected=read - len(rows),
        file_rejected=False,
    )
