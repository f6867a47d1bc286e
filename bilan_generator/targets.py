"""Targets of a drop: the figures the raw files must reproduce.

For exercise 2017 the targets are the published figures (``dbt/seeds``),
multiplied by ``scale``. Volet-level figures (dynamique de parcours, autres
motifs, ouvertures de droits, créations d'activité, mises en parcours en cours)
are spread over the thematics of the volet so that every published sum holds.
Other exercises get the 2017 figures perturbed by up to ±15 %, kept consistent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .alloc import allocate
from .reference import Thematique, chiffres_cles, synthese, thematiques

CALIBRATED_EXERCICE = 2017


@dataclass
class ThemTarget:
    them: Thematique
    nb_actions: int
    montant_cents: int
    acc: int = 0  # accompagnements (participant rows)
    fins: int = 0  # rows with a Date de sortie
    ins_durable: int = 0  # INSERTION_DURABLE exits
    creation: int = 0  # of which sous_categorie CREATION_ACTIVITE
    mise_parcours: int = 0  # MISE_EN_PARCOURS exits
    dynamique: int = 0  # DYNAMIQUE_PARCOURS exits
    autres: int = 0  # AUTRE_MOTIF exits
    ouverture_droits: int = 0  # of which sous_categorie OUVERTURE_DROITS
    en_cours_oui: int = 0  # still accompanied with Mise en parcours en cours = Oui


@dataclass
class Targets:
    exercice: int
    scale: int
    calibrated: bool
    thematics: list[ThemTarget]
    nb_operateurs: int
    etp_quarters: int  # total ETP x 4 (ETP are multiples of 0.25: exact float sums)
    ru_etp_quarters: int
    ru_referents: int
    cer_personnes: int
    cer_accompagnement_social: int
    indicateurs: dict[str, dict[str, int]] = field(default_factory=dict)  # code -> ind -> total


def _spread_volet(tt: list[ThemTarget], dyn: int, autres: int, od: int, crea: int, oui: int):
    """Spread volet totals over the volet's thematics (exact sums, consistent caps)."""
    rest = [t.fins - t.ins_durable - t.mise_parcours for t in tt]
    dyn_t = allocate(dyn, [float(r) for r in rest], caps=rest)
    for t, r, d in zip(tt, rest, dyn_t, strict=True):
        t.dynamique, t.autres = d, r - d
    if sum(t.autres for t in tt) != autres:
        raise ValueError("inconsistent volet totals")
    caps = [t.autres for t in tt]
    for t, v in zip(tt, allocate(od, [float(c) for c in caps], caps=caps), strict=True):
        t.ouverture_droits = v
    caps = [t.ins_durable for t in tt]
    w = [c * (6.0 if t.them.domaine == "CREA" else 0.25) for t, c in zip(tt, caps, strict=True)]
    for t, v in zip(tt, allocate(crea, w, caps=caps), strict=True):
        t.creation = v
    caps = [t.acc - t.fins for t in tt]
    for t, v in zip(tt, allocate(oui, [float(c) for c in caps], caps=caps), strict=True):
        t.en_cours_oui = v


def published_targets(scale: int = 1) -> Targets:
    syn, cc = synthese(), chiffres_cles()
    s = scale
    tts = []
    for th in thematiques():
        r = syn[th.code]
        tts.append(
            ThemTarget(
                them=th,
                nb_actions=r["nb_actions"] * s,
                montant_cents=r["montant_paye_eur"] * 100 * s,
                acc=r["accompagnements"] * s,
                fins=r["fins_accompagnement"] * s,
                ins_durable=r["insertions_durables"] * s,
                mise_parcours=r["mises_en_parcours"] * s,
            )
        )
    for volet in ("SOC", "PRO"):
        _spread_volet(
            [t for t in tts if t.them.volet == volet],
            dyn=cc[(volet, "sorties_dynamique_parcours")] * s,
            autres=cc[(volet, "sorties_autres_motifs")] * s,
            od=cc[(volet, "sorties_ouverture_droits")] * s,
            crea=cc.get((volet, "sorties_insertion_durable_creation_activite"), 0) * s,
            oui=cc.get((volet, "en_cours_avec_mise_en_parcours"), 0) * s,
        )
    # "plus de 12 000" is a lower bound: a total slightly above it.
    accueils = cc[("SOC-INS", "accueils_individuels")] * s + 237 * s
    return Targets(
        exercice=CALIBRATED_EXERCICE,
        scale=s,
        calibrated=True,
        thematics=tts,
        nb_operateurs=cc[("total", "nb_partenaires")] * s,
        etp_quarters=cc[("total", "etp")] * 4 * s,
        ru_etp_quarters=cc[("RU", "etp")] * 4 * s,
        ru_referents=cc[("RU", "nb_referents")] * s,
        cer_personnes=cc[("RU", "personnes_cer")] * s,
        cer_accompagnement_social=cc[("RU", "personnes_accompagnement_social")] * s,
        indicateurs={
            "SOC-INS": {"accueils_individuels": accueils},
            "SOC-MOB": {
                "problemes_mobilite_resolus": cc[("SOC-MOB", "problemes_mobilite_resolus")] * s
            },
            "SOC-NUM": {
                "lieux_acces_multimedia": cc[("SOC-NUM", "lieux_acces_multimedia")] * s,
                "certifications_delivrees": cc[("SOC-NUM", "certifications_delivrees")] * s,
            },
        },
    )


def perturbed_targets(exercice: int, scale: int, seed: int) -> Targets:
    """Plausible, uncalibrated targets: 2017 figures x (1 ± 15 %), consistent."""
    base = published_targets(scale)
    rng = random.Random(f"targets-{exercice}-{seed}")

    def f(x: int, lo: int = 0) -> int:
        return max(lo, round(x * rng.uniform(0.85, 1.15)))

    tts = []
    for b in base.thematics:
        t = ThemTarget(them=b.them, nb_actions=f(b.nb_actions, 1), montant_cents=0)
        t.montant_cents = f(b.montant_cents // 100, 1000 * t.nb_actions) * 100
        if b.acc:
            t.acc = f(b.acc, 3 * t.nb_actions)
            t.fins = min(t.acc, f(b.fins))
            t.ins_durable = min(t.fins, f(b.ins_durable))
            t.mise_parcours = min(t.fins - t.ins_durable, f(b.mise_parcours))
        tts.append(t)
    for volet in ("SOC", "PRO"):
        vt = [t for t in tts if t.them.volet == volet]
        bt = [t for t in base.thematics if t.them.volet == volet]
        rest = sum(t.fins - t.ins_durable - t.mise_parcours for t in vt)
        b_dyn = sum(t.dynamique for t in bt)
        b_rest = sum(t.dynamique + t.autres for t in bt)
        dyn = min(rest, round(rest * b_dyn / b_rest * rng.uniform(0.9, 1.1)))
        autres = rest - dyn
        b_od = sum(t.ouverture_droits for t in bt) / max(1, sum(t.autres for t in bt))
        od = min(autres, round(autres * b_od * rng.uniform(0.85, 1.15)))
        ins = sum(t.ins_durable for t in vt)
        b_crea = sum(t.creation for t in bt) / max(1, sum(t.ins_durable for t in bt))
        crea = min(ins, round(ins * b_crea * rng.uniform(0.85, 1.15)))
        en_cours = sum(t.acc - t.fins for t in vt)
        b_oui = sum(t.en_cours_oui for t in bt) / max(1, sum(t.acc - t.fins for t in bt))
        oui = min(en_cours, round(en_cours * b_oui * rng.uniform(0.85, 1.15)))
        _spread_volet(vt, dyn, autres, od, crea, oui)
    nb_conv = sum(t.nb_actions for t in tts)
    nb_ru = next(t.nb_actions for t in tts if t.them.code == "RU")
    ru_ref = max(nb_ru, f(base.ru_referents))
    ru_etp_q = min(4 * ru_ref, max(2 * nb_ru, f(base.ru_etp_quarters)))
    cer = f(base.cer_personnes, nb_ru)
    return Targets(
        exercice=exercice,
        scale=scale,
        calibrated=False,
        thematics=tts,
        nb_operateurs=min(nb_conv, max(nb_ru + 10, f(base.nb_operateurs))),
        etp_quarters=max(ru_etp_q + nb_conv, f(base.etp_quarters)),
        ru_etp_quarters=ru_etp_q,
        ru_referents=ru_ref,
        cer_personnes=cer,
        cer_accompagnement_social=min(cer, f(base.cer_accompagnement_social)),
        indicateurs={
            code: {k: f(v) for k, v in inds.items()} for code, inds in base.indicateurs.items()
        },
    )


def build_targets(exercice: int, scale: int = 1, seed: int = 2017) -> Targets:
    if scale < 1:
        raise ValueError("scale must be >= 1")
    if exercice == CALIBRATED_EXERCICE:
        return published_targets(scale)
    return perturbed_targets(exercice, scale, seed)
