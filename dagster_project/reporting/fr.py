"""French number formatting for the report and the exports (pure functions, no locale needed).

Thousands are separated by a narrow no-break space (U+202F) and a no-break space (U+00A0) comes
before ``%`` and ``€``, as French typography wants; the decimal separator is a comma. Rounding is
half-up (what readers expect from a printed report), done on :class:`~decimal.Decimal` so
``40,85`` never becomes ``40,8`` through a float artefact.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

NNBSP = "\u202f"  # thousands separator
NBSP = "\u00a0"  # before % and €

Number = int | float | Decimal


def _dec(x: Number) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def arrondi(x: Number, decimales: int = 0) -> Decimal:
    """Half-up rounding to ``decimales`` places."""
    return _dec(x).quantize(Decimal(1).scaleb(-decimales), rounding=ROUND_HALF_UP)


def nombre(x: Number | None, decimales: int = 0) -> str:
    """``12782`` → ``12 782``; ``40.83, 1`` → ``40,8``; ``None`` → ``""``."""
    if x is None:
        return ""
    d = arrondi(x, decimales)
    signe = "−" if d < 0 else ""  # U+2212, the typographic minus
    d = abs(d)
    entier, _, frac = f"{d:.{decimales}f}".partition(".")
    groupes = []
    while len(entier) > 3:
        groupes.insert(0, entier[-3:])
        entier = entier[:-3]
    groupes.insert(0, entier)
    texte = NNBSP.join(groupes)
    return f"{signe}{texte},{frac}" if decimales else f"{signe}{texte}"


def entier(x: Number | None) -> str:
    """A count: ``22591`` → ``22 591``."""
    return nombre(x, 0)


def pct(x: Number | None, decimales: int = 1) -> str:
    """A percentage given in 0-100: ``40.83`` → ``40,8 %``."""
    return "" if x is None else f"{nombre(x, decimales)}{NBSP}%"


def signe_pct(x: Number | None, decimales: int = 1, unite: str = "%") -> str:
    """A change: ``+12,5 %`` / ``−3,0 %`` (``unite="pts"`` for percentage points)."""
    if x is None:
        return ""
    plus = "+" if arrondi(x, decimales) > 0 else ""
    return f"{plus}{nombre(x, decimales)}{NBSP}{unite}"


def euros(x: Number | None) -> str:
    """An amount: ``15866991`` → ``15 866 991 €``; cents shown only when not zero."""
    if x is None:
        return ""
    d = _dec(x)
    dec = 0 if d == d.to_integral_value() else 2
    return f"{nombre(d, dec)}{NBSP}€"


def millions_euros(x: Number | None, decimales: int = 2) -> str:
    """Compact millions: ``15866991`` → ``15,87 M€``."""
    if x is None:
        return ""
    return f"{nombre(_dec(x) / Decimal(1_000_000), decimales)}{NBSP}M€"


def millions_texte(x: Number, decimales: int = 1) -> str:
    """As in the printed text: ``15,9 millions d’euros``, ``1,60 million d’euros``."""
    m = arrondi(_dec(x) / Decimal(1_000_000), decimales)
    mot = "million" if m < 2 else "millions"
    return f"{nombre(m, decimales)} {mot} d’euros"


def parts_plus_fort_reste(valeurs: Sequence[Number], total: int = 100) -> list[int]:
    """Whole shares summing exactly to ``total`` (largest-remainder method).

    This is how the published report rounds its pie charts (e.g. 48,4 % printed as 49 % so the
    five exit categories add up to 100 %).
    """
    vals = [_dec(v) for v in valeurs]
    somme = sum(vals)
    if somme == 0:
        return [0 for _ in vals]
    exacts = [v * total / somme for v in vals]
    bas = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exacts]
    reste = total - sum(bas)
    ordre = sorted(range(len(vals)), key=lambda i: (exacts[i] - bas[i], vals[i]), reverse=True)
    for i in ordre[:reste]:
        bas[i] += 1
    return bas


def part(numerateur: Number | None, denominateur: Number | None) -> Decimal | None:
    """``100 × n / d`` as a Decimal, None when undefined."""
    if numerateur is None or not denominateur:
        return None
    return _dec(numerateur) * 100 / _dec(denominateur)
