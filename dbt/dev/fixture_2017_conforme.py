"""Raw rows for exercice 2017 that reproduce every published figure of the 2017 report.

Read from the seeds (bilan_publie_synthese.csv, bilan_publie_chiffres_cles.csv), so the
control totals (fct_controles_publies) must all be `ok`: it proves the business rules of
the dbt project match the report's definitions. Deterministic; ~36 000 rows.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
EX = 2017
LINEAGE_TS = "2018-06-30 10:00:00"


def _published() -> tuple[list[dict], dict[tuple[str, str], float]]:
    with open(SEEDS / "bilan_publie_synthese.csv", encoding="utf-8") as f:
        synthese = [r for r in csv.DictReader(f) if int(r["exercice"]) == EX]
    with open(SEEDS / "bilan_publie_chiffres_cles.csv", encoding="utf-8") as f:
        cles = {
            (r["perimetre"], r["indicateur"]): float(r["valeur"])
            for r in csv.DictReader(f)
            if int(r["exercice"]) == EX
        }
    with open(SEEDS / "thematiques.csv", encoding="utf-8") as f:
        types = {r["code_thematique"]: r["code_type_action"] for r in csv.DictReader(f)}
    for row in synthese:
        row["type"] = types[row["code_thematique"]]
    return synthese, cles


def _int(value: str) -> int:
    return int(value) if value else 0


def rows() -> dict[str, list[tuple]]:
    synthese, cles = _published()
    k = lambda p, i: int(cles[(p, i)])  # noqa: E731
    nb_partenaires = k("total", "nb_partenaires")
    # exits left to allocate per volet once durable insertions / professional paths are set
    dyn = {v: k(v, "sorties_dynamique_parcours") for v in ("SOC", "PRO")}
    ouv = {v: k(v, "sorties_ouverture_droits") for v in ("SOC", "PRO")}
    creation = k("PRO", "sorties_insertion_durable_creation_activite")
    en_cours_mp = k("PRO", "en_cours_avec_mise_en_parcours")
    etp_ru, etp_total = k("RU", "etp"), k("total", "etp")
    nb_ru = k("RU", "nb_conventions")
    nb_autres = k("total", "nb_actions") - nb_ru
    specifiques = {
        "SOC-INS": {"accueils_individuels": k("SOC-INS", "accueils_individuels") + 345},
        "SOC-MOB": {"problemes_mobilite_resolus": k("SOC-MOB", "problemes_mobilite_resolus")},
        "SOC-NUM": {
            "lieux_acces_multimedia": k("SOC-NUM", "lieux_acces_multimedia"),
            "certifications_delivrees": k("SOC-NUM", "certifications_delivrees"),
        },
    }
    out: dict[str, list[tuple]] = {"actions": [], "participants": [], "cer": [], "mandats": []}
    n_action = n_mandat = n_pers = 0
    ru_seen = other_seen = 0
    for row in synthese:
        code, volet = row["code_thematique"], row["type"]
        nb, montant = int(row["nb_actions"]), int(row["montant_paye_eur"])
        conventions = []
        for i in range(nb):
            n_action += 1
            conv = f"PDI-{EX}-{n_action:04d}"
            conventions.append(conv)
            siret = f"{10_000_000_000_000 + (n_action - 1) % nb_partenaires:014d}"
            src = f"{EX}/operateurs/{conv}.xlsx"
            if code == "RU":
                ru_seen += 1
                etp = etp_ru - 2.5 * (nb_ru - 1) if ru_seen == 1 else 2.5
                referents = k("RU", "nb_referents") - 3 * (nb_ru - 1) if ru_seen == 1 else 3
            else:
                other_seen += 1
                etp = (etp_total - etp_ru) - 2 * (nb_autres - 1) if other_seen == 1 else 2.0
                referents = None
            spec = specifiques.get(code, {}) if i == 0 else {}
            out["actions"].append((
                EX, conv, f"Opérateur {siret[-3:]}", siret, f"Action {conv}", code,
                date(EX, 1, 1), date(EX + 1, 6, 30), etp, referents,
                spec.get("accueils_individuels"), spec.get("problemes_mobilite_resolus"),
                spec.get("lieux_acces_multimedia"), spec.get("certifications_delivrees"),
                src, "Action", 3, f"sha-{conv}", LINEAGE_TS, "run-2017",
            ))
            # mandates: an advance and a balance summing to the thematic's amount (cents
            # included), plus on the first action an amendment cancelled by an annulation
            part = montant // nb + (montant % nb if i == nb - 1 else 0)
            avance = round(part * 0.6, 2)
            lines = [("Avance", avance), ("Solde", round(part - avance, 2))]
            if i == 0:
                lines += [("Avenant", 1234.56), ("Annulation", -1234.56)]
            for nature, amount in lines:
                n_mandat += 1
                out["mandats"].append((
                    EX, f"{EX}-{n_mandat:06d}", date(EX, 3, 1), conv, f"TIERS {siret[-3:]}",
                    siret, nature, amount, f"{EX}/finances/mandats_{EX}.csv", None,
                    n_mandat + 1, "sha-mandats", LINEAGE_TS, "run-2017",
                ))
        # participants, all on the thematic's first action
        if row["accompagnements"]:
            acc, fins = int(row["accompagnements"]), int(row["fins_accompagnement"])
            ids, mps = _int(row["insertions_durables"]), _int(row["mises_en_parcours"])
            reste = fins - ids - mps
            motifs = []
            for _ in range(ids):
                if volet == "PRO" and creation > 0:
                    motifs.append("ID-CREATION")
                    creation -= 1
                else:
                    motifs.append("ID-EMPLOI")
            motifs += ["MP-CONTRAT-COURT"] * mps
            n_dyn = min(reste, dyn[volet])
            dyn[volet] -= n_dyn
            motifs += ["DP-ORIENT-PE"] * n_dyn
            for _ in range(reste - n_dyn):
                if ouv[volet] > 0:
                    motifs.append("AM-DROIT-ARE")
                    ouv[volet] -= 1
                else:
                    motifs.append("AM-ABANDON")
            for j in range(acc):
                n_pers += 1
                motif = motifs[j] if j < fins else None
                mp_en_cours = None
                if motif is None and volet == "PRO" and en_cours_mp > 0:
                    mp_en_cours = True
                    en_cours_mp -= 1
                out["participants"].append((
                    EX, conventions[0], f"B{n_pers:06d}", date(EX, 2, 1),
                    date(EX, 11, 30) if motif else None, motif, motif, mp_en_cours,
                    f"{EX}/operateurs/{conventions[0]}.xlsx", "Participants", j + 2,
                    f"sha-{conventions[0]}", LINEAGE_TS, "run-2017",
                ))
        if code == "RU":
            personnes, social = k("RU", "personnes_cer"), k("RU", "personnes_accompagnement_social")
            cer = [(conventions[0], f"C{p:06d}", p <= social) for p in range(1, personnes + 1)]
            # renewals and persons contracted by two conventions: still counted once
            cer += [(conventions[1], f"C{p:06d}", False) for p in range(1, 201)]
            for j, (conv, ident, soc) in enumerate(cer):
                out["cer"].append((
                    EX, conv, ident, date(EX, 4, 1), soc, f"{EX}/operateurs/{conv}.xlsx", "CER",
                    j + 2, f"sha-{conv}", LINEAGE_TS, "run-2017",
                ))
    assert not any(dyn.values()) and not any(ouv.values()) and creation == 0 and en_cours_mp == 0
    return out


def insert(con: duckdb.DuckDBPyConnection) -> None:
    data = rows()
    for table, key in [("raw.raw_actions", "actions"), ("raw.raw_participants", "participants"),
                       ("raw.raw_cer", "cer"), ("raw.raw_mandats", "mandats")]:
        columns = list(zip(*data[key], strict=True))
        batch = pa.table({f"c{i}": pa.array(col) for i, col in enumerate(columns)})  # noqa: F841
        con.execute(f"insert into {table} select * from batch")
