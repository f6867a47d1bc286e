"""Plausible French names: communes, operators, finance-system names, SIRET, titles.

Everything is drawn from a seeded ``random.Random``; nothing refers to a real
organisation.
"""

from __future__ import annotations

import random
import re
import unicodedata

COMMUNES = [
    "Bellerive",
    "Saint-Aubin",
    "Montfort-le-Haut",
    "Villeneuve-sur-Oise",
    "Le Plessis-Brion",
    "Châteauneuf",
    "Saint-Éloi",
    "Beaulieu",
    "Vernouillet",
    "Les Essarts",
    "Fontenay-la-Forêt",
    "Pontcharra",
    "Saint-Rémy",
    "Mézières",
    "Val-de-Brenne",
    "Lormont-sur-Aire",
    "Sainte-Hélène",
    "Guérande-la-Vieille",
    "Rochefort-en-Yvel",
    "Plaisance",
    "Les Clayes",
    "Écouen-Village",
    "Noisy-le-Val",
    "Saint-Médard",
    "Bois-d'Arcy-le-Neuf",
    "Aubergenville",
    "Marly-la-Plaine",
    "Montigny",
    "Villiers-Saint-Paul",
    "La Ferté-Alais",
    "Chaumont-sur-Loir",
    "Étréchy",
    "Saint-André-des-Eaux",
    "Blanquefort",
    "Mérignac-Centre",
    "Pessac-Bourg",
    "Lacanau-Ville",
    "Haut-Vallon",
    "Bréval",
    "Neauphle",
    "Orgerus",
    "Thoiry",
    "Saint-Cyr-l'École",
    "Trappes-Est",
    "Élancourt",
    "Maurepas",
    "Coignières",
    "Les Mureaux-Nord",
    "Chanteloup",
]

ASSO_NOUNS = [
    "Tremplin",
    "Passerelles",
    "Horizons",
    "Élan solidaire",
    "Relais emploi",
    "Cap avenir",
    "Trait d'union",
    "Escale",
    "Ressources",
    "Le Pont",
    "Envol",
    "Parcours",
    "Boussole",
    "Solidarités nouvelles",
    "Initiatives",
    "Renouer",
    "Rebond",
    "Entraide",
    "Archipel",
    "L'Atelier",
    "La Clé",
    "Sillage",
    "Ancrage",
    "Déclic",
    "Essor",
    "Médiations",
    "Convergences",
    "Accueil & partage",
    "Femmes relais",
    "Santé pour tous",
    "Mobilité solidaire",
    "Numérique pour tous",
]

_ASSO = [("Association {n}", 5), ("Association {n} {de}", 4), ("{n}", 3)]
KINDS_BY_FAMILY = {
    "PRO-IAE-ACI": [("Chantier d'insertion {n}", 4), ("Régie de quartier {de}", 2), ("ACI {n}", 2)]
    + _ASSO,
    "PRO-IAE-SIAE": [("GEIQ {n}", 3), ("Groupement d'employeurs {n}", 2), ("ETTI {n}", 2)],
    "PRO-CREA": [
        ("Couveuse d'activités {n}", 2),
        ("CAE {n}", 2),
        ("SCOP {n}", 2),
        ("SCIC {n}", 1),
        ("Boutique de gestion {de}", 1),
    ]
    + _ASSO,
    "PRO-EMP-PLIE": [("PLIE {de}", 4), ("Maison de l'emploi {de}", 1)],
    "PRO-EMP": [("Mission locale {de}", 2), ("Maison de l'emploi {de}", 1), ("SCOP {n}", 1)]
    + _ASSO,
    "PRO-PART": [("Fédération {n}", 2), ("Réseau {n}", 2), ("SCIC {n}", 1)] + _ASSO,
    "SAN": [("Centre de santé {n}", 1)] + _ASSO,
    "SOC": [("Centre social {n}", 2)] + _ASSO,
}


def family(code: str) -> str:
    for key in (
        "PRO-IAE-ACI",
        "PRO-IAE-SIAE",
        "PRO-EMP-PLIE",
        "PRO-CREA",
        "PRO-EMP",
        "PRO-PART",
        "SAN",
    ):
        if code.startswith(key):
            return key
    return "SOC"


KINDS_PUBLIC = [
    ("Centre communal d'action sociale {de}", 5),
    ("Commune {de}", 2),
    ("Centre intercommunal d'action sociale {de}", 1),
]

INTITULES = {
    "PRO-PART": [
        "Animation du réseau des entreprises partenaires",
        "Soutien au réseau ESS {de}",
        "Plateforme d'orientation vers l'emploi",
        "Dispositif local d'accompagnement",
    ],
    "PRO-CREA-ACC": [
        "Accompagnement à la création d'activité",
        "Suivi post-création des entrepreneurs",
        "Parcours créateurs – {c}",
    ],
    "PRO-CREA-COUV": ["Couveuse d'activités", "Coopérative d'activités et d'emploi"],
    "PRO-CREA-PART": [
        "Plateforme création d'activité",
        "Microcrédit et expertise financière",
        "Club de créatrices",
    ],
    "PRO-EMP-AME": [
        "Action de mobilisation vers l'emploi",
        "AME – {c}",
        "Mobilisation vers l'emploi",
    ],
    "PRO-EMP-AUTRE": ["Accompagnement vers et dans l'emploi", "Accompagnement renforcé à l'emploi"],
    "PRO-EMP-PLIE": ["Accompagnement PLIE des allocataires du RSA", "Référent PLIE – {c}"],
    "PRO-EMP-AGE": ["Accompagnement global vers l'emploi"],
    "PRO-EMP-CUI": ["Accompagnement des salariés en CUI-CIE"],
    "PRO-IAE-ACI": [
        "Atelier et chantier d'insertion",
        "Chantier d'insertion espaces verts",
        "ACI recyclerie {de}",
        "ACI maraîchage biologique",
    ],
    "PRO-IAE-SIAE": [
        "Accompagnement en entreprise de travail temporaire d'insertion",
        "Parcours GEIQ",
        "Groupement d'employeurs pour l'insertion",
    ],
    "RU": [
        "Mission de référent unique RSA",
        "Référents uniques – {c}",
        "Contractualisation et accompagnement social",
    ],
    "SAN-INF": ["Accompagnement santé par infirmière", "Suivi infirmier des allocataires"],
    "SAN-SPE": ["Accompagnement santé spécifique", "Prévention des addictions et insertion"],
    "SAN-PSY": ["Accompagnement des fragilités psycho-sociales", "Écoute et soutien psychologique"],
    "SOC-AOP": ["Appui objectif projet", "AOP – {c}"],
    "SOC-INS": [
        "Lieu d'accueil et d'insertion sociale",
        "Ateliers d'insertion sociale",
        "Espace d'accueil de jour",
    ],
    "SOC-MOB": ["Plateforme mobilité", "Auto-école sociale", "Location solidaire de véhicules"],
    "SOC-NUM": [
        "Coordination des espaces publics numériques",
        "Lutte contre la fracture numérique",
    ],
}


def strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def de(commune: str) -> str:
    """French preposition + commune: "de Bellerive", "d'Élancourt", "du Plessis", "des Essarts"."""
    if commune.startswith("Le "):
        return "du " + commune[3:]
    if commune.startswith("Les "):
        return "des " + commune[4:]
    if strip_accents(commune[:1]).upper() in "AEIOU":
        return "d'" + commune
    return "de " + commune


def _pick_weighted(rng: random.Random, items):
    return rng.choices([t for t, _ in items], weights=[w for _, w in items])[0]


class NameMaker:
    """Distinct operator names, by kind: public bodies (CCAS/communes) or the
    family of the operator's main action."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.seen: set[str] = set()

    def make(self, family_key: str | None) -> tuple[str, str]:
        rng = self.rng
        kinds = KINDS_PUBLIC if family_key is None else KINDS_BY_FAMILY[family_key]
        for attempt in range(1000):
            tpl = _pick_weighted(rng, kinds if attempt < 30 else _ASSO)
            c = rng.choice(COMMUNES)
            name = tpl.format(n=rng.choice(ASSO_NOUNS), c=c, de=de(c))
            if attempt > 60:
                name = f"{name} {rng.choice(['Nord', 'Sud', 'Est', 'Ouest', 'Centre'])} {attempt}"
            if name not in self.seen:
                self.seen.add(name)
                return name, c
        raise RuntimeError("cannot find a new operator name")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _luhn_complete(prefix: str) -> str:
    for last in "0123456789":
        if _luhn_ok(prefix + last):
            return prefix + last
    raise AssertionError


def siret(rng: random.Random, used: set[str]) -> str:
    """A valid-looking SIRET: Luhn-valid SIREN (9) + NIC (5), whole SIRET Luhn-valid."""
    while True:
        siren = _luhn_complete(str(rng.randint(10_000_000, 99_999_999)))
        s = _luhn_complete(siren + f"{rng.choice((1, 1, 1, 2, 2, 3, 4, 5, 11, 12, 23, 34)):04d}")
        if s not in used:
            used.add(s)
            return s


_ABBR = [
    (r"^CENTRE COMMUNAL D'ACTION SOCIALE (DE |D'|DU |DES )", r"CCAS \1"),
    (r"^CENTRE INTERCOMMUNAL D'ACTION SOCIALE (DE |D'|DU |DES )", r"CIAS \1"),
    (r"^COMMUNE (DE |D'|DU |DES )", r"MAIRIE \1"),
    (r"^ASSOCIATION ", "ASSO "),
    (r"^GROUPEMENT D'EMPLOYEURS ", "GE "),
    (r"^CHANTIER D'INSERTION ", "CHANTIER INS. "),
    (r"^COUVEUSE D'ACTIVITES ", "COUVEUSE "),
    (r"^MAISON DE L'EMPLOI (DE |D'|DU |DES )", "MDE "),
    (r"^MISSION LOCALE (DE |D'|DU |DES )", "MISSION LOCALE "),
    (r"^REGIE DE QUARTIER (DE |D'|DU |DES )", "REGIE QUARTIER "),
    (r"\bSAINTE?-", "ST "),
    (r"\bSAINT ", "ST "),
]


def tiers_name(name: str) -> str:
    """The operator's name as the finance system knows it: upper case, no
    accents, abbreviated, at most 32 characters, Windows-1252 safe."""
    s = strip_accents(name).upper().replace("’", "'").replace("&", "ET")
    for pat, rep in _ABBR:
        s = re.sub(pat, rep, s)
    s = re.sub(r"\s+", " ", s).strip()
    return s[:32].rstrip()


def intitule(rng: random.Random, code: str, commune: str) -> str:
    return rng.choice(INTITULES[code]).format(c=commune, de=de(commune))


_BAD = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def safe_filename(s: str) -> str:
    s = unicodedata.normalize("NFC", _BAD.sub(" ", s))
    return re.sub(r"\s+", " ", s).strip()[:120].strip()
