"""The calibrated in-memory plan of a drop: operators, conventions, participants,
CER rows and payment mandates.

``build_plan(targets, seed)`` turns the figures of ``targets.Targets`` into
individual records whose aggregates reproduce them exactly. Presentation
(file format, labels, layout) is decided later, in ``layout.py``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from . import names
from .alloc import allocate, random_weights
from .reference import Thematique, motifs
from .targets import Targets

# Participant: (identifiant, date_entree, date_sortie | None, code_motif | None, oui: bool)
Participant = tuple
# CER row: (identifiant, date_signature, accompagnement_social: bool)
CerRow = tuple


@dataclass
class Operator:
    name: str
    commune: str
    siret: str
    public: bool
    tiers: str


@dataclass
class Mandate:
    num: str
    date_emission: date
    convention: str
    nature: str
    cents: int


@dataclass
class Convention:
    numero: int
    num: str
    them: Thematique
    operator: Operator
    intitule: str
    debut: date
    fin: date
    montant_cents: int
    etp_quarters: int = 0
    nb_referents: int | None = None
    indicateurs: dict[str, int] = field(default_factory=dict)
    participants: list[Participant] = field(default_factory=list)
    cer: list[CerRow] = field(default_factory=list)
    mandates: list[Mandate] = field(default_factory=list)

    @property
    def etp(self) -> float:
        return self.etp_quarters / 4


@dataclass
class Plan:
    exercice: int
    seed: int
    conventions: list[Convention]
    operators: list[Operator]
    mandates: list[Mandate]


def _rand_date(rng: random.Random, a: date, b: date) -> date:
    return a + timedelta(days=rng.randint(0, max(0, (b - a).days)))


def _ri(rng: random.Random, a: int, b: int) -> int:
    """Fast uniform integer in [a, b] (hot loops: random() is much cheaper than randint())."""
    return a + int(rng.random() * (b - a + 1))


# ---------------------------------------------------------------- operators
def _operators(rng: random.Random, t: Targets, n_ru: int) -> tuple[list[Operator], list[Operator]]:
    """Operator slots with their SIRET; named once their actions are known."""
    n_public = min(t.nb_operateurs - 1, max(1, round(n_ru * 0.85)))
    used: set[str] = set()

    def mk(public):
        return Operator("", "", names.siret(rng, used), public, "")

    return [mk(True) for _ in range(n_public)], [
        mk(False) for _ in range(t.nb_operateurs - n_public)
    ]


def _name_operators(rng: random.Random, convs: list[Convention], operators: list[Operator]) -> None:
    first: dict[int, Convention] = {}
    for c in sorted(convs, key=lambda c: (c.montant_cents, c.numero), reverse=True):
        first.setdefault(id(c.operator), c)
    maker = names.NameMaker(rng)
    for op in operators:
        fam = None if op.public else names.family(first[id(op)].them.code)
        op.name, op.commune = maker.make(fam)
        op.tiers = names.tiers_name(op.name)


def _assign_operators(rng, convs: list[Convention], public: list[Operator], other: list[Operator]):
    """Every operator runs at least one action; public bodies run all RU actions
    (and a few social ones); some associations run several actions."""
    ru = [c for c in convs if c.them.code == "RU"]
    rest = [c for c in convs if c.them.code != "RU"]
    rng.shuffle(ru)
    rng.shuffle(rest)
    for i, c in enumerate(ru):
        c.operator = public[i] if i < len(public) else rng.choice(public)
    # public bodies without an RU action get a social one
    idle_public = public[len(ru) :]
    soc = [c for c in rest if c.them.volet == "SOC"]
    for op, c in zip(idle_public, soc, strict=False):
        c.operator = op
    taken = {id(c) for c in soc[: len(idle_public)]}
    rest = [c for c in rest if id(c) not in taken]
    fam_of = {}
    for i, c in enumerate(rest[: len(other)]):
        c.operator = other[i]
        fam_of[i] = names.family(c.them.code)
    weights = [rng.paretovariate(1.3) for _ in other]
    by_fam: dict[str, list[float]] = {}
    for c in rest[len(other) :]:
        fam = names.family(c.them.code)
        w = by_fam.get(fam)
        if w is None:  # operators mostly run several actions of the same kind
            w = by_fam[fam] = [
                x * (10.0 if fam_of[i] == fam else 0.3) for i, x in enumerate(weights)
            ]
        c.operator = rng.choices(other, weights=w)[0]


# ---------------------------------------------------------------- mandates
def _mandates(rng: random.Random, c: Convention, y: int) -> list[tuple]:
    """(date, nature, cents) of a convention, net sum = c.montant_cents."""
    last = date(y + 1, 12, 31)
    total = c.montant_cents
    d_av = min(last, _rand_date(rng, c.debut - timedelta(days=20), c.debut + timedelta(days=45)))
    d_av = max(d_av, date(y, 1, 2))
    d_solde = min(last, c.fin + timedelta(days=rng.randint(15, 100)))
    d_solde = max(d_solde, d_av + timedelta(days=1))
    out: list[tuple] = []
    u = rng.random()
    if u < 0.08 or total < 300_000:
        out.append(
            (
                d_solde if rng.random() < 0.5 else d_av,
                "Solde" if rng.random() < 0.5 else "Avance",
                total,
            )
        )
    else:
        avenant = 0
        if rng.random() < 0.18:
            avenant = round(total * rng.uniform(0.05, 0.15) / 10_000) * 10_000
        base = total - avenant
        avance = round(base * rng.choice((0.5, 0.6, 0.7, 0.8)) / 100) * 100
        out.append((d_av, "Avance", avance))
        if avenant:
            d_avn = _rand_date(
                rng,
                d_av + timedelta(days=30),
                max(d_av + timedelta(days=30), d_solde - timedelta(days=1)),
            )
            out.append((min(d_avn, last), "Avenant", avenant))
        out.append((d_solde, "Solde", base - avance))
    if rng.random() < 0.09:
        # a mandate cancelled (wrong bank details, wrong amount...) then re-issued
        k = rng.randrange(len(out))
        d0, nat, amount = out[k]
        d_ann = min(last, d0 + timedelta(days=rng.randint(3, 40)))
        d_re = min(last, d_ann + timedelta(days=rng.randint(1, 20)))
        out.append((d_ann, "Annulation", -amount))
        out.append((d_re, nat, amount))
    assert sum(x[2] for x in out) == total
    return out


# ---------------------------------------------------------------- participants
def _motif_pools():
    by: dict[str, list[str]] = {}
    for m in motifs():
        key = m.categorie
        if m.sous_categorie:
            key = f"{m.categorie}/{m.sous_categorie}"
        by.setdefault(key, []).append(m.code)
    return {
        "ID": by["INSERTION_DURABLE"],
        "ID_CREA": by["INSERTION_DURABLE/CREATION_ACTIVITE"],
        "MP": by["MISE_EN_PARCOURS"],
        "DP": by["DYNAMIQUE_PARCOURS"],
        "AM": by["AUTRE_MOTIF"],
        "AM_OD": by["AUTRE_MOTIF/OUVERTURE_DROITS"],
    }


_MP_WEIGHTS = {"MP-CREATION": 3, "MP-COUVEUSE": 3}


def _participants_of_thematic(rng, tt, convs: list[Convention], pool_size: int, id_of):
    outcomes = (
        ["ID_CREA"] * tt.creation
        + ["ID"] * (tt.ins_durable - tt.creation)
        + ["MP"] * tt.mise_parcours
        + ["DP"] * tt.dynamique
        + ["AM_OD"] * tt.ouverture_droits
        + ["AM"] * (tt.autres - tt.ouverture_droits)
        + ["OUI"] * tt.en_cours_oui
        + ["EC"] * (tt.acc - tt.fins - tt.en_cours_oui)
    )
    assert len(outcomes) == tt.acc
    rng.shuffle(outcomes)
    sizes = allocate(
        tt.acc,
        [
            c.montant_cents * w
            for c, w in zip(convs, random_weights(rng, len(convs), 0.4), strict=True)
        ],
        minimum=min(5, tt.acc // len(convs)),
    )
    pools = _motif_pools()
    crea_dom = tt.them.domaine == "CREA"
    mp_codes = pools["MP"]
    mp_w = [
        (_MP_WEIGHTS.get(m, 1) * (4 if crea_dom else 1)) if m in _MP_WEIGHTS else 1
        for m in mp_codes
    ]
    id_plain = [m for m in pools["ID"] if m not in pools["ID_CREA"]]
    am_plain = [m for m in pools["AM"] if m not in pools["AM_OD"]]
    am_w = [
        6 if m == "AM-ABANDON" else 3 if m in ("AM-DEMENAGEMENT", "AM-AUTRE") else 1
        for m in am_plain
    ]
    pos = 0
    for c, k in zip(convs, sizes, strict=True):
        mine = outcomes[pos : pos + k]
        pos += k
        span = (c.fin - c.debut).days
        ids = rng.sample(range(pool_size), k)
        rows = []
        for idx, oc in zip(ids, mine, strict=True):
            if oc in ("OUI", "EC"):
                d_in = c.debut + timedelta(days=_ri(rng, 0, span))
                rows.append((id_of(idx), d_in, None, None, oc == "OUI"))
                continue
            d_in = c.debut + timedelta(days=_ri(rng, 0, span - 1))
            room = (c.fin - d_in).days
            dur = min(room, max(1, int(rng.triangular(7, room, min(room, 150)))))
            d_out = d_in + timedelta(days=dur)
            if oc == "ID":
                code = rng.choice(id_plain)
            elif oc == "ID_CREA":
                code = rng.choice(pools["ID_CREA"])
            elif oc == "MP":
                code = rng.choices(mp_codes, weights=mp_w)[0]
            elif oc == "DP":
                code = rng.choice(pools["DP"])
            elif oc == "AM_OD":
                code = rng.choice(pools["AM_OD"])
            else:
                code = rng.choices(am_plain, weights=am_w)[0]
            rows.append((id_of(idx), d_in, d_out, code, False))
        rows.sort(key=lambda r: (r[1], r[0]))
        c.participants = rows


def _cer(rng, t: Targets, ru: list[Convention], pool_size: int, id_of):
    if not ru:
        return
    persons = rng.sample(range(pool_size), t.cer_personnes)
    social = set(rng.sample(persons, t.cer_accompagnement_social))
    sizes = allocate(t.cer_personnes, [float(c.nb_referents or 1) for c in ru], minimum=1)
    pos = 0
    moved: list[tuple] = []
    for ci, (c, k) in enumerate(zip(ru, sizes, strict=True)):
        rows = []
        span = (c.fin - c.debut).days
        for p in persons[pos : pos + k]:
            pid = id_of(p)
            soc = p in social
            renew = span > 150 and rng.random() < 0.3
            d1 = c.debut + timedelta(days=_ri(rng, 0, span - 130 if renew else span))
            rows.append((pid, d1, soc))
            if renew:
                d2 = d1 + timedelta(days=_ri(rng, 120, min(330, (c.fin - d1).days)))
                row2 = (pid, d2, soc and rng.random() < 0.6)
                if len(ru) > 1 and rng.random() < 0.02:
                    moved.append((ci, row2))  # moved: renewed by another RU
                else:
                    rows.append(row2)
        pos += k
        c.cer = rows
    for ci, (pid, d2, soc) in moved:
        other = ru[(ci + 1 + rng.randrange(len(ru) - 1)) % len(ru)]
        d = min(max(d2, other.debut), other.fin)
        other.cer.append((pid, d, soc))
    for c in ru:
        c.cer.sort(key=lambda r: (r[1], r[0]))


# ---------------------------------------------------------------- plan
def build_plan(t: Targets, seed: int) -> Plan:
    y = t.exercice
    rng = random.Random(f"plan-{y}-{t.scale}-{seed}")
    # conventions, numbered in a shuffled order
    slots = [tt for tt in t.thematics for _ in range(tt.nb_actions)]
    rng.shuffle(slots)
    width = max(4, len(str(len(slots))))
    convs: list[Convention] = []
    for i, tt in enumerate(slots, start=1):
        debut = _rand_date(rng, date(y, 1, 1), date(y, 12, 1))
        u = rng.random()
        months = 12 if u < 0.65 else rng.choice((6, 9, 10)) if u < 0.8 else rng.choice((15, 18))
        fin = min(date(y + 1, 12, 31), debut + timedelta(days=round(months * 30.44) - 1))
        convs.append(Convention(i, f"PDI-{y}-{i:0{width}d}", tt.them, None, "", debut, fin, 0))  # type: ignore[arg-type]
    by_them: dict[str, list[Convention]] = {}
    for c in convs:
        by_them.setdefault(c.them.code, []).append(c)
    # amounts: each thematic's total split over its conventions, to the cent
    for tt in t.thematics:
        cs = by_them.get(tt.them.code, [])
        if not cs:
            continue
        parts = allocate(
            tt.montant_cents,
            random_weights(rng, len(cs), 0.7),
            minimum=min(100_000, tt.montant_cents // len(cs)),
        )
        # move some cents around so that amounts carry cents (sum unchanged)
        for j in range(len(cs) - 1):
            d = rng.randint(0, 99)
            if parts[j] > d:
                parts[j] -= d
                parts[j + 1] += d
        for c, p in zip(cs, parts, strict=True):
            c.montant_cents = p
    # operators
    public, other = _operators(rng, t, len(by_them.get("RU", [])))
    _assign_operators(rng, convs, public, other)
    _name_operators(rng, convs, public + other)
    for c in convs:
        c.intitule = names.intitule(rng, c.them.code, c.operator.commune)
    # staff: RU referents and ETP (multiples of 0.25)
    ru = by_them.get("RU", [])
    if ru:
        refs = allocate(t.ru_referents, [c.montant_cents for c in ru], minimum=1)
        etp = allocate(
            t.ru_etp_quarters, [c.montant_cents for c in ru], minimum=2, caps=[4 * r for r in refs]
        )
        for c, r, e in zip(ru, refs, etp, strict=True):
            c.nb_referents, c.etp_quarters = r, e
    others = [c for c in convs if c.them.code != "RU"]
    etp = allocate(
        t.etp_quarters - t.ru_etp_quarters,
        [
            c.montant_cents * w
            for c, w in zip(others, random_weights(rng, len(others), 0.3), strict=True)
        ],
        minimum=1,
    )
    for c, e in zip(others, etp, strict=True):
        c.etp_quarters = e
    # specific indicators
    for code, inds in t.indicateurs.items():
        cs = by_them.get(code, [])
        for ind, total in inds.items():
            vals = allocate(
                total, random_weights(rng, len(cs), 0.8), minimum=min(1, total // max(1, len(cs)))
            )
            for c, v in zip(cs, vals, strict=True):
                c.indicateurs[ind] = v
    # persons: pseudonymised numbers shared by all actions and CER, drawn without
    # repetition through an affine bijection of [0, M) (gcd(mult, M) = 1; 7-8 digits)
    n_rows = sum(tt.acc for tt in t.thematics)
    pool_size = max(3 * n_rows, 3 * t.cer_personnes, 1000)
    modulus, offset = 99_000_000, 1_000_000
    mult = rng.randrange(modulus // 3, modulus)
    while math.gcd(mult, modulus) != 1:
        mult += 1
    shift = rng.randrange(modulus)
    if pool_size >= modulus:
        raise ValueError("scale too large for 8-digit identifiers")

    def id_of(i: int) -> str:
        return str(offset + (mult * i + shift) % modulus)

    # a smaller "active" pool for participants so that some persons appear in several actions
    active = max(1000, round(n_rows * 2.6))
    for tt in t.thematics:
        if tt.them.nature == "accompagnement" and tt.acc:
            _participants_of_thematic(rng, tt, by_them[tt.them.code], active, id_of)
    _cer(rng, t, ru, pool_size, id_of)
    # mandates, numbered in order of issue
    raw = []
    for c in convs:
        for d, nat, cents in _mandates(rng, c, y):
            raw.append((d, c.numero, nat, cents, c))
    raw.sort(key=lambda r: (r[0], r[1]))
    mwidth = max(5, len(str(len(raw))))
    mandates = []
    for k, (d, _n, nat, cents, c) in enumerate(raw, start=1):
        m = Mandate(f"{y}-{k:0{mwidth}d}", d, c.num, nat, cents)
        c.mandates.append(m)
        mandates.append(m)
    return Plan(y, seed, convs, public + other, mandates)
