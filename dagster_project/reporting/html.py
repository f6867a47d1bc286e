"""The Bilan de l'Insertion of one exercise as one self-contained French HTML page.

Inline CSS and SVG only: no script, no web font, no image file, no link to any network address,
so it opens offline, prints to PDF as is, and can be mailed as a single file. The layout follows
the published document: synthesis and key figures, budget by domain of intervention, volet
social & santé, volet professionnel, the synthesis table, then what the published document does
not have: year-over-year changes, data quality, and notes on figures where the published
document disagrees with itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

from dagster_project.reporting import fr
from dagster_project.reporting.data import Marts, Qualite
from dagster_project.reporting.svg import PALETTE, Bar, Segment, bars, donut

# Order of the synthesis table of the published document; unknown codes come after, sorted.
ORDRE_TYPES = ("PRO", "RU", "SOC")
ORDRE_THEMATIQUES = (
    "PRO-PART", "PRO-CREA-ACC", "PRO-CREA-COUV", "PRO-CREA-PART", "PRO-EMP-AME",
    "PRO-EMP-AUTRE", "PRO-EMP-PLIE", "PRO-EMP-AGE", "PRO-EMP-CUI", "PRO-IAE-ACI",
    "PRO-IAE-SIAE", "RU", "SAN-INF", "SAN-SPE", "SAN-PSY", "SOC-AOP", "SOC-INS", "SOC-MOB",
    "SOC-NUM",
)
ORDRE_DOMAINES = ("RU", "SANTE", "SOCIAL", "PART", "IAE", "CREA", "EMP")
LIBELLES_TYPES = {
    "PRO": "Actions à visée principale d’insertion professionnelle",
    "SOC": "Actions à visée principale d’insertion sociale ou de santé",
    "RU": "Missions de référent unique financées",
}
COULEURS_DOMAINES = {
    "RU": "#6b6b6b", "SANTE": "#b04a7a", "SOCIAL": "#d55e00", "PART": "#b8860b",
    "IAE": "#2a8a6a", "CREA": "#0087b3", "EMP": "#1f5f99",
}
COULEURS_SORTIES = {
    "insertion_durable": "#1f5f99", "mise_en_parcours": "#0087b3",
    "dynamique_parcours": "#2a8a6a", "autre_motif": "#b8860b", "ouverture_droits": "#7b4f9d",
}

# Figures the published document prints that disagree with its own other figures: the report
# shows the value computed from the marts and this note. Keyed by exercise.
ECARTS_PUBLIES: dict[int, list[dict[str, str]]] = {
    2017: [{
        "perimetre": "PRO",
        "indicateur": "part_en_cours_avec_mise_en_parcours_pct",
        "publie": "26 %",
    }],
}

CSS = """
:root { --bleu:#1f5f99; --gris:#555; --fond:#f4f6f9; }
* { box-sizing: border-box; }
html { font-family: system-ui, "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
  color:#1a1a1a; line-height:1.45; }
body { margin:0 auto; max-width:1060px; padding:24px 32px 48px; background:#fff; }
header.titre { border-bottom:4px solid var(--bleu); padding-bottom:12px; margin-bottom:20px; }
header.titre .surtitre { text-transform:uppercase; letter-spacing:.08em; color:var(--bleu);
  font-weight:700; font-size:.9rem; }
h1 { font-size:2rem; margin:.2em 0 .1em; }
h2 { font-size:1.35rem; color:var(--bleu); border-bottom:2px solid #d9e2ec; padding-bottom:4px;
  margin-top:2.2em; }
h3 { font-size:1.1rem; margin:1.4em 0 .5em; }
p.sous-titre { margin:0; color:var(--gris); }
.cartes { display:grid; grid-template-columns:repeat(auto-fill, minmax(200px, 1fr)); gap:12px;
  margin:16px 0; }
.carte { background:var(--fond); border-left:5px solid var(--bleu); padding:10px 14px;
  border-radius:4px; }
.carte .valeur { font-size:1.7rem; font-weight:700; color:var(--bleu); white-space:nowrap; }
.carte .libelle { font-weight:600; }
.carte .detail { font-size:.88rem; color:var(--gris); }
.phrase { font-size:1.08rem; }
.phrase strong, .resultats strong { color:var(--bleu); }
ul.resultats { list-style:none; padding-left:0; }
ul.resultats li { padding:2px 0; }
ul.resultats li .n { display:inline-block; min-width:5.5em; text-align:right; font-weight:700;
  color:var(--bleu); margin-right:.5em; font-variant-numeric:tabular-nums; }
.graphique { margin:12px 0 4px; }
figure { margin:16px 0; page-break-inside:avoid; break-inside:avoid; }
figcaption { font-weight:700; text-transform:uppercase; font-size:.9rem; letter-spacing:.03em;
  margin-bottom:6px; }
.note-graphique { font-size:.82rem; color:var(--gris); margin-top:2px; }
table { border-collapse:collapse; width:100%; font-size:.86rem; margin:8px 0 16px; }
th, td { border:1px solid #cfd8e3; padding:4px 6px; vertical-align:top; }
th { background:#e8eef5; text-align:left; }
td.n { text-align:right; white-space:nowrap; font-variant-numeric:tabular-nums; }
th.n { text-align:right; }
table.synthese, table.fixe { table-layout:fixed; }
table.fixe { font-size:.8rem; }
ul.ecarts { list-style:none; padding-left:0; }
table.synthese th { font-size:.78rem; hyphens:auto; }
table.synthese td { overflow-wrap:anywhere; }
table.synthese td.domaine { font-weight:600; background:#f7f9fb; }
tr.sous-total td { background:#f0f4f8; font-weight:600; }
tr.total td { background:#dfe8f2; font-weight:700; border-top:2px solid var(--bleu); }
tr.ko td { background:#fde8e8; }
td.specifique { font-style:italic; color:#333; }
.statut-ok { color:#1b6e3a; font-weight:700; }
.statut-ko { color:#a4161a; font-weight:700; }
.encadre { background:var(--fond); border:1px solid #d9e2ec; border-radius:6px; padding:10px 16px;
  margin:12px 0; }
.encadre.alerte { background:#fff6e0; border-color:#e6c36a; }
.notes { font-size:.85rem; color:#333; }
.notes li { margin-bottom:4px; }
sup { font-size:.7em; }
footer { margin-top:40px; font-size:.8rem; color:var(--gris); border-top:1px solid #d9e2ec;
  padding-top:8px; }
.deux-colonnes { display:grid; grid-template-columns:1fr; gap:8px; }
@media print {
  body { max-width:none; padding:0; font-size:10.5pt; }
  table.synthese { font-size:7.5pt; }
  table.synthese th { font-size:7pt; }
  figure svg { max-height:78mm; }
  h2 { break-before:page; page-break-before:always; margin-top:0; }
  h2.sans-saut { break-before:auto; page-break-before:auto; }
  tr, .carte { break-inside:avoid; page-break-inside:avoid; }
  details > *:not(summary) { display:block; }
}
@page { size:A4; margin:14mm 12mm; }
"""


def _e(x: Any) -> str:
    return escape(str(x)) if x is not None else ""


def _n(x: Any) -> str:
    return fr.entier(x)


_ROWSPAN = "\x00rowspan={}\x00"  # cell prefix: this cell spans rows
_SKIP = "\x00skip\x00"  # cell covered by a rowspan above


def _td(i: int, c: str, num_from: int) -> str:
    if c == _SKIP:
        return ""
    attrs = ' class="n"' if i >= num_from else ""
    if c.startswith("\x00rowspan="):
        n, c = c[len("\x00rowspan="):].split("\x00", 1)
        attrs = f' rowspan="{n}" class="domaine"'
    return f"<td{attrs}>{c}</td>"


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], num_from: int = 1,
           classes: Iterable[str] | None = None, css: str = "",
           widths: Iterable[int] = ()) -> str:
    head = list(head)
    cols = "".join(f'<col style="width:{w}%">' for w in widths)
    colgroup = f"<colgroup>{cols}</colgroup>" if cols else ""
    h = "".join(f'<th class="n">{c}</th>' if i >= num_from else f"<th>{c}</th>"
                for i, c in enumerate(head))
    body = []
    classes = list(classes) if classes is not None else None
    for k, r in enumerate(rows):
        cls = f' class="{classes[k]}"' if classes and classes[k] else ""
        tds = "".join(_td(i, c, num_from) for i, c in enumerate(r))
        body.append(f"<tr{cls}>{tds}</tr>")
    tcls = f' class="{css}"' if css else ""
    return (f"<table{tcls}>{colgroup}<thead><tr>{h}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _ordre_thematique(code: str) -> tuple[int, str]:
    return (ORDRE_THEMATIQUES.index(code) if code in ORDRE_THEMATIQUES else 999, code)


def _li(n: Any, texte: str) -> str:
    return f'<li><span class="n">{_n(n)}</span>{texte}</li>'


def _carte(valeur: str, libelle: str, detail: str = "") -> str:
    d = f'<div class="detail">{detail}</div>' if detail else ""
    return (f'<div class="carte"><div class="valeur">{valeur}</div>'
            f'<div class="libelle">{libelle}</div>{d}</div>')


class _Notes:
    """Numbered notes (écarts with the published document), referenced as (a), (b)…"""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, html: str) -> str:
        self.items.append(html)
        return f'<sup><a href="#note-{len(self.items)}">({chr(96 + len(self.items))})</a></sup>'


def _sorties(m: Marts, volet: str, scinder_ouverture: bool) -> list[tuple[str, str, Decimal]]:
    """(key, label, count) of the exit categories of a volet, as the published pie splits them."""
    c = lambda i: m.c(volet, i, Decimal(0)) or Decimal(0)  # noqa: E731
    autres = c("sorties_autres_motifs")
    items = [
        ("insertion_durable", "Insertion durable²", c("sorties_insertion_durable")),
        ("mise_en_parcours", "Mise en parcours professionnel³", c("sorties_mise_en_parcours")),
        ("dynamique_parcours", "Dynamique de parcours¹", c("sorties_dynamique_parcours")),
    ]
    if scinder_ouverture:
        ouv = c("sorties_ouverture_droits")
        items += [("autre_motif", "Autres motifs⁴", autres - ouv),
                  ("ouverture_droits", "Ouverture d’autres droits⁴", ouv)]
    else:
        items += [("autre_motif", "Autres motifs⁴", autres)]
    return items


def _donut_sorties(m: Marts, volet: str, scinder: bool) -> str:
    items = _sorties(m, volet, scinder)
    fins = m.c(volet, "fins_accompagnement", Decimal(0)) or Decimal(0)
    arrondis = fr.parts_plus_fort_reste([v for _, _, v in items])
    segs = [
        Segment(label=lib, value=float(v), color=COULEURS_SORTIES[k],
                detail=f"{_n(v)} sorties · {fr.pct(fr.part(v, fins))}",
                inner=f"{a}\u00a0%")
        for (k, lib, v), a in zip(items, arrondis, strict=True)
    ]
    titre = f"Répartition des {_n(fins)} fins d’action"
    svg = donut(segs, titre, center=(_n(fins), "fins d’action"))
    return (f'<figure><figcaption>{_e(titre)}</figcaption><div class="graphique">{svg}</div>'
            '<div class="note-graphique">Sur l’anneau, parts arrondies à l’unité de sorte que '
            'leur total fasse 100 % (méthode du plus fort reste, comme dans le document publié) ; '
            'à droite, la part exacte au dixième.</div></figure>')


def _barres_accompagnements(m: Marts, volet: str, couleur: str) -> str:
    lignes = sorted(
        (s for s in m.synthese if s["code_type_action"] == volet
         and s["accompagnements"] is not None),
        key=lambda s: (-(s["accompagnements"] or 0), _ordre_thematique(s["code_thematique"])),
    )
    total = m.c(volet, "accompagnements", Decimal(0))
    titre = f"{_n(total)} accompagnements réalisés"
    svg = bars([Bar(s["libelle_thematique"], float(s["accompagnements"] or 0),
                    _n(s["accompagnements"]), couleur) for s in lignes], titre)
    return (f'<figure><figcaption>{_e(titre)}</figcaption><div class="graphique">{svg}</div>'
            "</figure>")


def _section_synthese(m: Marts) -> str:
    ex = m.exercice
    t = lambda i: m.c("total", i)  # noqa: E731
    cartes = "".join([
        _carte(fr.millions_euros(t("montant_paye_eur")), "payés sur le budget " + str(ex),
               f"{fr.euros(t('montant_paye_eur'))}, soit "
               f"{fr.millions_texte(t('montant_paye_eur'))}"),
        _carte(_n(t("nb_actions")), "actions mises en œuvre",
               f"par {_n(t('nb_partenaires'))} partenaires (opérateurs)"),
        _carte(_n(t("etp")), "équivalents temps plein (ETP)",
               f"de personnels mobilisés ({fr.nombre(t('etp'), 2)} ETP déclarés)"),
        _carte(_n(t("accompagnements")), "accompagnements",
               "de personnes allocataires du RSA"),
        _carte(_n(t("fins_accompagnement")), "fins d’accompagnement",
               f"dont {_n(t('sorties_emploi_formation'))} sorties « emploi formation »"),
        _carte(_n(t("personnes_reprise_activite")), "personnes ayant (re)pris une activité",
               f"{_n(t('sorties_emploi_formation'))} sorties emploi formation + "
               f"{_n(m.c('PRO', 'en_cours_avec_mise_en_parcours'))} encore accompagnées"),
    ])
    return f"""
<section id="synthese">
<h2 class="sans-saut">Synthèse</h2>
<p class="phrase">Avec ce Bilan de l’Insertion (exercice budgétaire {ex}), le Département poursuit
sa démarche d’évaluation du PDI. Ce bilan résulte de l’exploitation des données caractérisant les
<strong>{_n(t("nb_actions"))} actions d’insertion</strong> mises en œuvre sur la période
{m.periode[0]}-{m.periode[1]} : les financements correspondants, le nombre
d’accompagnements réalisés et les résultats de ces actions (situation des personnes à l’issue de
l’accompagnement).</p>
<p class="phrase">Avec le soutien financier du Département, les associations du secteur de
l’insertion et de l’économie sociale et solidaire ont ainsi permis <strong>la (re)prise d’une
activité professionnelle pour {_n(t("personnes_reprise_activite"))} personnes</strong>.</p>
<div class="cartes">{cartes}</div>
<div class="encadre">
<p><strong>Le budget</strong> — {fr.millions_texte(t("montant_paye_eur"))} payés sur le budget
{ex} du PPI ({fr.euros(t("montant_paye_eur"))}).</p>
<p><strong>Les actions</strong> — {_n(t("nb_actions"))} actions mises en œuvre par
{_n(t("nb_partenaires"))} partenaires ayant mobilisé {_n(t("etp"))} équivalents temps plein (ETP)
de personnels.</p>
<p><strong>Les accompagnements</strong> — {_n(t("accompagnements"))} accompagnements de personnes
allocataires du RSA (un même contrat peut comporter plusieurs accompagnements simultanés, relevant
de thématiques différentes).</p>
</div>
</section>"""


def _section_budget(m: Marts) -> str:
    domaines = {}
    for s in m.synthese:
        d = domaines.setdefault(s["code_domaine"], {"libelle": s["libelle_domaine"],
                                                    "type": s["code_type_action"],
                                                    "montant": Decimal(0), "actions": 0})
        d["montant"] += s["montant_paye_eur"] or 0
        d["actions"] += s["nb_actions"] or 0
    total = m.c("total", "montant_paye_eur") or sum(d["montant"] for d in domaines.values())
    codes = sorted(domaines, key=lambda c: (ORDRE_DOMAINES.index(c)
                                            if c in ORDRE_DOMAINES else 99, c))
    segs = []
    for i, code in enumerate(codes):
        d = domaines[code]
        # from the amounts, not the mart's share rounded to 2 decimals (rounded twice, 55.4455 %
        # printed 55.5 %: cold review); the same below
        share = fr.part(d["montant"], total)
        segs.append(Segment(
            label=d["libelle"], value=float(d["montant"]),
            color=COULEURS_DOMAINES.get(code, PALETTE[i % len(PALETTE)]),
            detail=f"{fr.millions_euros(d['montant'], 1)} · {fr.pct(share)}",
            inner=fr.pct(share, 0) if share and share >= 5 else ""))
    svg = donut(segs, "Répartition du budget par domaines d’intervention",
                center=(fr.millions_euros(total), "payés"))
    rows, classes = [], []
    for code in codes:
        d = domaines[code]
        share = fr.part(d["montant"], total)
        rows.append([_e(d["libelle"]), _n(d["actions"]), fr.euros(d["montant"]),
                     fr.millions_euros(d["montant"], 1), fr.pct(share)])
        classes.append("")
    groupes = []
    for typ in ORDRE_TYPES:
        mt = m.c(typ, "montant_paye_eur")
        if mt is None:
            continue
        lib = {"PRO": "Insertion professionnelle", "SOC": "Insertion sociale et santé",
               "RU": "Référents uniques"}.get(typ, typ)
        groupes.append(f"<li><strong>{lib}</strong> : {fr.millions_euros(mt, 1)} · "
                       f"{fr.pct(fr.part(mt, total))} ({fr.euros(mt)})</li>")
    rows.append(["Total", _n(m.c("total", "nb_actions")), fr.euros(total),
                 fr.millions_euros(total, 1), fr.pct(100)])
    classes.append("total")
    table = _table(["Domaine d’intervention", "Actions", "Montant payé", "En M€", "Part du budget"],
                   rows, classes=classes)
    return f"""
<section id="budget">
<h2>Répartition du budget par domaines d’intervention</h2>
<figure><figcaption>Répartition du budget par domaines d’intervention</figcaption>
<div class="graphique">{svg}</div></figure>
<ul>{''.join(groupes)}</ul>
{table}
</section>"""


def _section_social(m: Marts) -> str:
    c = lambda i, p="SOC": m.c(p, i)  # noqa: E731
    ru = lambda i: m.c("RU", i)  # noqa: E731
    resultats = "".join([
        '<ul class="resultats">',
        _li(c("sorties_dynamique_parcours"), "sorties en « dynamique de parcours »¹"),
        _li(c("sorties_insertion_durable"), "sorties en « insertion durable »² (emploi ou "
            "formation ou création d’activité)"),
        _li(c("sorties_mise_en_parcours"), "sorties en « mise en parcours professionnel »³"),
        _li(c("sorties_autres_motifs"), f"sorties pour d’autres motifs⁴ (dont "
            f"{_n(c('sorties_ouverture_droits'))} ouvertures de droit autre prestation)"),
        "</ul>"])
    return f"""
<section id="volet-social">
<h2>Volet social &amp; santé</h2>
<div class="encadre">
<p class="phrase"><strong>{fr.millions_texte(ru("montant_paye_eur"), 2)}</strong> pour la
contractualisation (et un accompagnement social si besoin)</p>
<p>{_n(ru("nb_conventions"))} conventions avec {_n(ru("nb_referents"))} référents uniques
travailleurs sociaux ({_n(ru("etp"))} ETP) pour élaborer puis renouveler les contrats
d’engagements réciproques de <strong>{_n(ru("personnes_cer"))} personnes</strong> (dont
{_n(ru("personnes_accompagnement_social"))} ont fait l’objet d’un accompagnement social).</p>
<p class="phrase">et <strong>{fr.millions_texte(c("montant_paye_eur"), 2)}</strong> pour lever
les freins à l’emploi</p>
<p>{_n(c("nb_actions"))} actions déclinées en {_n(c("nb_thematiques"))} thématiques ayant permis
<strong>{_n(c("accompagnements"))} accompagnements</strong>, avec pour objectif principal de rendre
possible une insertion professionnelle.</p>
</div>
{_barres_accompagnements(m, "SOC", "#d55e00")}
<h3>Les résultats</h3>
<p>À l’issue de ces suivis, <strong>{_n(c("fins_accompagnement"))} fins d’action</strong>
(« sorties »), soit :</p>
{resultats}
{_donut_sorties(m, "SOC", scinder=True)}
</section>"""


def _section_pro(m: Marts, notes: _Notes) -> str:
    c = lambda i: m.c("PRO", i)  # noqa: E731
    en_cours = c("en_cours")
    avec_mep = c("en_cours_avec_mise_en_parcours")
    part_mep = fr.part(avec_mep, en_cours)
    renvoi = ""
    for ecart in ECARTS_PUBLIES.get(m.exercice, []):
        cle = (ecart["perimetre"], ecart["indicateur"])
        if cle == ("PRO", "part_en_cours_avec_mise_en_parcours_pct"):
            renvoi = notes.add(
                f"Le document publié imprime « {_n(avec_mep)} soit {ecart['publie']} » des "
                f"personnes encore en accompagnement ; or celles-ci sont {_n(en_cours)} "
                f"({_n(c('accompagnements'))} accompagnements − {_n(c('fins_accompagnement'))} "
                f"fins d’action), et {_n(avec_mep)} / {_n(en_cours)} = "
                f"{fr.pct(part_mep)}. Ce rapport affiche la valeur calculée à partir des marts, "
                f"{fr.pct(part_mep)}, au lieu de {ecart['publie']}.")
    ef = c("sorties_emploi_formation")
    fins = c("fins_accompagnement")
    resultats = "".join([
        '<ul class="resultats">',
        _li(c("sorties_insertion_durable"), "sorties en « insertion durable »² : emploi ou "
            "formation ou création d’activité "
            f"({_n(c('sorties_insertion_durable_creation_activite'))})"),
        _li(c("sorties_mise_en_parcours"), "sorties en « mise en parcours professionnel »³"),
        _li(c("sorties_dynamique_parcours"), "sorties en « dynamique de parcours »¹"),
        _li(c("sorties_autres_motifs"), f"sorties pour autres motifs⁴ (dont "
            f"{_n(c('sorties_ouverture_droits'))} ouvertures de droit autre prestation : "
            "allocation de retour à l’emploi, allocation adulte handicapé ou retraite)"),
        "</ul>"])
    return f"""
<section id="volet-professionnel">
<h2>Volet professionnel</h2>
<div class="encadre">
<p class="phrase"><strong>{fr.millions_texte(c("montant_paye_eur"), 2)}</strong> pour l’insertion
par l’emploi et l’activité</p>
<p>{_n(c("nb_actions"))} actions déclinées en {_n(c("nb_thematiques"))} thématiques ayant permis
<strong>{_n(c("accompagnements"))} accompagnements</strong>, avec l’insertion professionnelle pour
objectif principal.</p>
</div>
{_barres_accompagnements(m, "PRO", "#1f5f99")}
<h3>Les résultats</h3>
<p>À l’issue de ces suivis, <strong>{_n(fins)} fins d’action</strong> (« sorties »), soit :</p>
{resultats}
<div class="cartes">
{_carte(fr.pct(fr.part(ef, fins), 0), "en sorties « emploi formation »",
        f"attestées par des justificatifs ({fr.pct(fr.part(ef, fins))})")}
{_carte(_n(ef), "sorties « emploi formation »",
        f"{_n(c('sorties_insertion_durable'))} insertions durables + "
        f"{_n(c('sorties_mise_en_parcours'))} mises en parcours")}
</div>
{_donut_sorties(m, "PRO", scinder=False)}
<div class="encadre alerte">
<p class="phrase">De plus, parmi les personnes encore en accompagnement,
<strong>{_n(avec_mep)} soit {fr.pct(part_mep)}</strong>{renvoi} ont déjà accédé à une mise en
parcours professionnel.</p>
</div>
</section>"""


def _specifique(m: Marts, code: str) -> str:
    if code == "SOC-INS":
        v = m.c("SOC-INS", "accueils_individuels")
        if v is None:
            return ""
        centaines = (int(v) // 1000) * 1000
        return (f"plus de {_n(centaines)} accueils individuels réalisés "
                f"({_n(v)} déclarés)")
    if code == "SOC-MOB":
        v = m.c("SOC-MOB", "problemes_mobilite_resolus")
        return "" if v is None else f"{_n(v)} problèmes de mobilité résolus"
    if code == "SOC-NUM":
        lam = m.c("SOC-NUM", "lieux_acces_multimedia")
        cert = m.c("SOC-NUM", "certifications_delivrees")
        n = next((s["nb_actions"] for s in m.synthese if s["code_thematique"] == code), None)
        if lam is None and cert is None:
            return ""
        return (f"{_n(n)} CNET coordonnant {_n(lam)} LAM ; {_n(cert)} certifications et "
                "attestations délivrées")
    if code == "RU":
        v = m.c("RU", "personnes_cer")
        return "" if v is None else f"contractualisation avec {_n(v)} personnes"
    return ""


def _section_tableau(m: Marts) -> str:
    synthese = sorted(m.synthese, key=lambda s: (
        ORDRE_TYPES.index(s["code_type_action"]) if s["code_type_action"] in ORDRE_TYPES else 9,
        _ordre_thematique(s["code_thematique"])))
    cols = ["nb_actions", "montant_paye_eur", "accompagnements", "fins_accompagnement",
            "insertions_durables", "mises_en_parcours", "sorties_emploi_formation"]

    def cells(vals: dict) -> list[str]:
        out = [_n(vals["nb_actions"]), fr.euros(vals["montant_paye_eur"])]
        out += [_n(vals[k]) for k in cols[2:]]
        return out

    rows, classes = [], []
    types = [t for t in ORDRE_TYPES if any(s["code_type_action"] == t for s in synthese)]
    types += sorted({s["code_type_action"] for s in synthese} - set(types))
    for typ in types:
        lignes = [s for s in synthese if s["code_type_action"] == typ]
        for k, s in enumerate(lignes):
            spec = _specifique(m, s["code_thematique"])
            lib = _e(s["libelle_thematique"])
            if spec:
                lib += f'<br><span class="specifique">{_e(spec)}</span>'
            premier = k == 0 or lignes[k - 1]["code_domaine"] != s["code_domaine"]
            if premier:
                span = 1
                while k + span < len(lignes) and \
                        lignes[k + span]["code_domaine"] == s["code_domaine"]:
                    span += 1
                dom = _ROWSPAN.format(span) + _e(s["libelle_domaine"])
            else:
                dom = _SKIP
            rows.append([dom, lib, *cells(s)])
            classes.append("")
        sous = {k: sum((s[k] for s in lignes if s[k] is not None), 0) if any(
            s[k] is not None for s in lignes) else None for k in cols}
        rows.append(["", f"Sous-total : {_n(sous['nb_actions'])} "
                     f"{_e(LIBELLES_TYPES.get(typ, typ).lower())}", *cells(sous)])
        classes.append("sous-total")
    t = lambda i: m.c("total", i)  # noqa: E731
    rows.append(["", "TOTAUX", _n(t("nb_actions")), fr.euros(t("montant_paye_eur")),
                 _n(t("accompagnements")), _n(t("fins_accompagnement")),
                 _n(t("insertions_durables")), _n(t("mises_en_parcours")),
                 _n(t("sorties_emploi_formation"))])
    classes.append("total")
    head = ["Domaine d’intervention", "Thématique d’accompagnement", "Nombre d’actions",
            "Montants payés", "Accompa\u00adgnements ou suivis réalisés",
            "Fins d’accompa\u00adgnement (sorties de l’action)",
            "Insertions profession\u00adnelles durables (2)",
            "Mises en parcours profes\u00adsionnel (3)",
            "Total sorties emploi formation (2)+(3)"]
    n_types = len(types)
    n_dom = len({s["code_domaine"] for s in synthese})
    n_them = len(synthese)
    return f"""
<section id="tableau">
<h2>Tableau de synthèse des données exploitées dans le Bilan de l’Insertion
{m.periode[0]}-{m.periode[1]}</h2>
<p><strong>{n_types}</strong> types d’action · <strong>{n_dom}</strong> domaines d’intervention ·
<strong>{n_them}</strong> thématiques d’accompagnement</p>
{_table(head, rows, num_from=2, classes=classes, css="synthese",
        widths=(12, 25, 7, 11, 9, 9, 9, 9, 9))}
<p class="phrase">+ <strong>{_n(t("en_cours_avec_mise_en_parcours"))}</strong> personnes
encore en cours d’accompagnement avec (re)prise d’activité =
<strong>{_n(t("personnes_reprise_activite"))} personnes ayant (re)pris une activité
professionnelle</strong> ({_n(t("sorties_emploi_formation"))} sorties emploi formation +
{_n(t("en_cours_avec_mise_en_parcours"))}).</p>
</section>"""


def _section_evolution(m: Marts) -> str:
    lignes = [e for e in m.evolution if e.get("exercice_precedent") is not None]
    if not lignes:
        autres = [e for e in m.exercices_charges if e != m.exercice]
        msg = ("Premier exercice chargé : pas d’exercice antérieur à comparer."
               if not autres or min(autres) > m.exercice else "Pas d’exercice antérieur chargé.")
        return f"""
<section id="evolution">
<h2 class="sans-saut">Évolution par rapport à l’exercice précédent</h2>
<p>{msg} Exercices publiés dans marts.duckdb : {", ".join(map(str, m.exercices_charges))}.</p>
</section>"""
    prec = lignes[0]["exercice_precedent"]
    lignes.sort(key=lambda e: _ordre_thematique(e["code_thematique"]))
    def ligne(libelle: str, mp, mn, ap, an, efp, efn, fp, fn) -> list[str]:
        """A row computed from its figures, as the Total row: the mart's percentages, rounded
        to 2 decimals, printed to 1 were rounded twice (55.4455 % printed 55.5 %: cold
        review)."""
        tp, tn = fr.part(efp, fp), fr.part(efn, fn)
        ecart = lambda n, p: None if n is None or p is None else fr.part(n - p, p)  # noqa: E731
        return [libelle, fr.euros(mp), fr.euros(mn), fr.signe_pct(ecart(mn, mp)),
                _n(ap), _n(an), fr.signe_pct(ecart(an, ap)), fr.pct(tp), fr.pct(tn),
                fr.signe_pct(tn - tp if tn is not None and tp is not None else None,
                             unite="pts")]

    cols = ("montant_paye_eur_precedent", "montant_paye_eur", "accompagnements_precedent",
            "accompagnements", "sorties_emploi_formation_precedent", "sorties_emploi_formation",
            "fins_accompagnement_precedent", "fins_accompagnement")
    rows = [ligne(_e(e["libelle_thematique"]), *(e[k] for k in cols)) for e in lignes]
    rows.append(ligne("Total", *(sum((e[k] or 0) for e in lignes) for k in cols)))
    head = ["Thématique", f"Montant {prec}", f"Montant {m.exercice}", "Évol.",
            f"Accomp. {prec}", f"Accomp. {m.exercice}", "Évol.",
            f"Taux sorties EF {prec}", f"Taux sorties EF {m.exercice}", "Évol."]
    return f"""
<section id="evolution">
<h2>Évolution {prec} → {m.exercice} par thématique</h2>
<p>Comparaison avec l’exercice chargé précédent ({prec}). Taux sorties EF : sorties « emploi
formation » rapportées aux fins d’accompagnement.</p>
{_table(head, rows, classes=[""] * (len(rows) - 1) + ["total"], css="fixe",
        widths=(24, 11, 11, 7, 8, 8, 7, 8, 8, 8))}
</section>"""


_STATUTS = {"loaded": "chargé", "rejected": "refusé", "replaced": "remplacé",
            "ignored": "ignoré", "removed": "retiré"}


def _section_qualite(m: Marts, q: Qualite) -> str:
    parts = ['<section id="qualite"><h2>Qualité des données</h2>']
    # Checks of the Dagster run
    if q.checks_dagster is not None:
        n = len(q.checks_dagster)
        ok = sum(1 for c in q.checks_dagster if c["passed"])
        ko = [c for c in q.checks_dagster if not c["passed"]]
        familles: dict[str, list[int]] = {}
        for c in q.checks_dagster:
            f = familles.setdefault(c["famille"], [0, 0])
            f[0 if c["passed"] else 1] += 1
        statut = ('<span class="statut-ok">tous réussis</span>' if not ko else
                  f'<span class="statut-ko">{_n(len(ko))} en échec</span>')
        # the run checks every exercise it loads at once (dbt tests, suites, conservation):
        # said, lest a failure about another exercise be read as this one's
        portee = (f" Ils portent sur tous les exercices publiés par le run "
                  f"({', '.join(map(str, m.exercices_charges))}), pas seulement {m.exercice} : "
                  "un échec peut concerner un autre exercice."
                  if len(m.exercices_charges) > 1 else "")
        parts.append(f"<h3>Contrôles exécutés par le run</h3><p>{_n(n)} contrôles (tests dbt, "
                     "suites Great Expectations, conservation des lignes, paiements comptés) : "
                     f"{_n(ok)} réussis, "
                     f"{statut}.{portee}</p>")
        parts.append(_table(["Famille de contrôles", "Réussis", "En échec"],
                            [[_e(k), _n(v[0]), _n(v[1])] for k, v in sorted(familles.items())]))
        if ko:
            parts.append(_table(
                ["Contrôle en échec", "Gravité", "Détail"],
                [[_e(f"{c['asset']} : {c['check']}"), _e(c.get("severity", "")),
                  _e(c.get("description") or "")] for c in ko], num_from=9))
    else:
        parts.append("<p>Rapport produit hors d’un run Dagster : le détail des contrôles du run "
                     "n’est pas disponible ; seuls les contrôles de cohérence figurent ci-dessous."
                     "</p>")
    if not q.disponible:
        parts.append(f'<p class="statut-ko">Données de chargement indisponibles : {_e(q.erreur)}.'
                     "</p></section>")
        return "".join(parts)
    # Control totals vs the published document
    if q.controles:
        n = len(q.controles)
        ko = [c for c in q.controles if c["statut"] != "ok"]
        statut = ('<span class="statut-ok">tous conformes</span>' if not ko
                  else f'<span class="statut-ko">{_n(len(ko))} non conformes</span>')
        parts.append(f"<h3>Contrôles de cohérence avec le document publié</h3><p>{_n(n)} chiffres "
                     f"imprimés dans le document publié comparés aux valeurs recalculées : "
                     f"{statut}.</p>")
        par_source: dict[str, list[int]] = {}
        for c in q.controles:
            s = par_source.setdefault(c["source"], [0, 0])
            s[0 if c["statut"] == "ok" else 1] += 1
        lib = {"synthese": "Tableau de synthèse", "chiffres_cles": "Chiffres clés"}
        parts.append(_table(["Source", "Conformes", "Non conformes"],
                            [[lib.get(k, k), _n(v[0]), _n(v[1])]
                             for k, v in sorted(par_source.items())]))
        detail = _table(
            ["Source", "Périmètre", "Indicateur", "Publié", "Calculé", "Comparaison", "Statut"],
            [[_e(c["source"]), _e(c["perimetre"]), _e(c["indicateur"]),
              fr.nombre(c["valeur_publiee"], 2 if c["indicateur"] == "etp" else 0)
              if c["valeur_publiee"] is not None else "",
              fr.nombre(c["valeur_calculee"], 2) if c["valeur_calculee"] is not None else "—",
              _e(c["comparaison"]), _e(c["statut"])] for c in q.controles],
            num_from=3, classes=["" if c["statut"] == "ok" else "ko" for c in q.controles])
        parts.append(f"<details><summary>Détail des {_n(n)} contrôles</summary>{detail}</details>")
    else:
        parts.append("<h3>Contrôles de cohérence avec le document publié</h3><p>Aucun chiffre "
                     f"publié n’est référencé pour l’exercice {m.exercice} : pas de contrôle de "
                     "cohérence.</p>")
    # Files
    parts.append("<h3>Fichiers reçus</h3>")
    if q.fichiers_par_statut:
        parts.append(_table(
            ["Statut", "Type de fichier", "Fichiers", "Lignes lues", "Lignes chargées",
             "Lignes non chargées"],
            [[_STATUTS.get(r["status"], _e(r["status"])), _e(r["kind"]), _n(r["fichiers"]),
              _n(r["lignes_lues"]), _n(r["lignes_chargees"]), _n(r["lignes_refusees"])]
             for r in q.fichiers_par_statut], num_from=2))
        if any(r["status"] == "replaced" for r in q.fichiers_par_statut):
            parts.append("<p>Lignes non chargées : refusées (motifs ci-dessous) ou, pour un "
                         "classeur remplacé, écartées au profit du classeur plus récent de la "
                         "même convention, qui seul compte.</p>")
    if q.fichiers_non_charges:
        parts.append("<p>Fichiers non chargés et motifs :</p>")
        parts.append(_table(
            ["Fichier", "Statut", "Motif", "Lignes non chargées"],
            [[_e(r["file_name"]), _STATUTS.get(r["status"], _e(r["status"])),
              # the manifest's detail says when the newer workbook was refused (the convention
              # then has none loaded: a cold review read only "remplacé par …")
              _e(r["detail"] or (f"remplacé par {r['replaced_by']}" if r["replaced_by"] else "")),
              _n(r["lignes_refusees"])] for r in q.fichiers_non_charges], num_from=3))
    else:
        parts.append("<p>Tous les fichiers reçus ont été chargés.</p>")
    if q.rejets_par_motif:
        n = sum(r["lignes"] for r in q.rejets_par_motif)
        montres = q.rejets_par_motif[:60]
        parts.append(f"<p>{_n(n)} refus (lignes ou fichiers), par fichier, feuille, colonne et "
                     "motif (les valeurs refusées ne figurent pas dans ce rapport) :</p>")
        parts.append(_table(
            ["Fichier", "Feuille", "Colonne", "Motif", "Refus", "1re ligne"],
            [[_e(r["file_name"]), _e(r["sheet"] or "—"), _e(r["column_name"] or "—"),
              _e(r["reason"]), _n(r["lignes"]),
              _n(r["premiere_ligne"]) if r["premiere_ligne"] is not None else "fichier"]
             for r in montres], num_from=4))
        if len(q.rejets_par_motif) > len(montres):
            parts.append(f"<p>… et {_n(len(q.rejets_par_motif) - len(montres))} autres motifs "
                         "(voir la table raw.rejets de l’entrepôt interne).</p>")
    else:
        parts.append("<p>Aucune ligne refusée.</p>")
    parts.append(_paiements_non_comptes(q))
    parts.append("</section>")
    return "".join(parts)


def _paiements_non_comptes(q: Qualite) -> str:
    """Money paid that the bilan does not count (refused payment lines), stated in euros."""
    if not q.paiements_verifies:
        return ""
    if q.paiements_non_comptes is None:
        return ("<h3>Paiements</h3><p>Tous les paiements lus dans les exports financiers sont "
                "comptés (un mandat en double n’est compté qu’une fois).</p>")
    from dagster_project.paiements import shortfall

    texte = _e(shortfall(q.paiements_non_comptes))
    if q.paiements_non_comptes["lignes"]:
        texte = ("Des paiements lus dans les exports financiers ne sont pas comptés dans ce "
                 f"bilan : {texte}. Le total payé publié ne les inclut pas.")
    else:  # nothing read to count: an export refused whole, or none at all
        texte = f"Paiements : {texte}."
    parts = [f'<h3>Paiements non comptés</h3><p class="statut-ko">{texte}</p>']
    if q.paiements_par_convention:
        parts.append(_table(
            ["Convention", "Motif", "Paiements", "Montant"],
            [[_e(r["convention"] or "—"), _e(r["motif"]), _n(r["lignes"]), _montant(r)]
             for r in q.paiements_par_convention], num_from=2))
        autres = q.paiements_par_convention[0]["groupes"] - len(q.paiements_par_convention)
        if autres > 0:
            parts.append(f"<p>… et {_n(autres)} autre(s) (voir la table raw.rejets de "
                         "l’entrepôt interne).</p>")
    return "".join(parts)


def _montant(group: dict) -> str:
    """A group's amount; the part whose amount is unknown said beside it, not left out."""
    if group["montant"] is None:
        return "inconnu"
    inconnu = group.get("lignes_montant_inconnu") or 0
    return fr.euros(group["montant"]) + (
        f" + {_n(inconnu)} paiement(s) au montant inconnu" if inconnu else "")


def _section_notes(notes: _Notes) -> str:
    ecarts = "".join(f'<li id="note-{i + 1}">({chr(97 + i)}) {n}</li>'
                     for i, n in enumerate(notes.items))
    ecarts_html = ("<h3>Écarts avec le document publié</h3>"
                   f'<ul class="notes ecarts">{ecarts}</ul>' if ecarts else "")
    return f"""
<section id="notes">
<h2 class="sans-saut">Notes</h2>
{ecarts_html}
<h3>Définitions des motifs de sortie</h3>
<ol class="notes">
<li><strong>Dynamiques de parcours</strong> (social ou professionnel) : préconisation d’orientation
vers une autre action du PDI, vers Pôle Emploi ou vers une action « de droit commun » ; période(s)
d’immersion en entreprise ; réalisation d’un bilan de compétences ; obtention du permis de conduire
ou réussite à l’examen du code de la route ; obtention d’une certification Internet ; ouverture de
droit CMU, CMU-C, ACS…</li>
<li><strong>Insertions durables</strong> : tout contrat de travail ≥ 1/2 temps et ≥ 6 mois ;
entrée en formation qualifiante et diplômante ≥ 450 h ; création d’activité ou obtention du statut
d’intermittent du spectacle générant plus de 1 500 € cumulés sur 3 mois consécutifs.</li>
<li><strong>Mises en parcours professionnel</strong> : tout contrat de travail &lt; 1/2 temps ou
&lt; 6 mois ; entrée en formation qualifiante et diplômante &lt; 450 h ; entrée en formation
pré-qualifiante ou non diplômante ; création d’activité ; hébergement en couveuse d’activité ;
statut d’intermittent du spectacle ; agrément d’assistante maternelle ; validation d’un diplôme
étranger.</li>
<li><strong>Autres motifs de sortie d’action</strong> : ouverture de droit à une autre prestation
(allocation de retour à l’emploi, allocation adulte handicapé, retraite) ; abandon ou refus du
suivi ; changement de situation familiale et autres changements de situation (déménagement,
maternité, hospitalisation, décès, incarcération…).</li>
</ol>
<h3>Méthode</h3>
<ul class="notes">
<li>Tous les chiffres sont lus dans la base publiée pour les analystes (marts.duckdb), construite
chaque nuit à partir des classeurs des opérateurs et de l’export des paiements, et publiée
seulement quand tous les contrôles bloquants ont réussi.</li>
<li>Montants : somme des mandats de paiement de l’exercice, nets des annulations. Un même contrat
peut comporter plusieurs accompagnements simultanés relevant de thématiques différentes.</li>
<li>Nombres arrondis au plus proche (ETP à l’unité, parts au dixième sauf mention contraire).</li>
</ul>
</section>"""


def render(m: Marts, q: Qualite, genere_le: datetime | None = None, run_id: str = "") -> str:
    """The whole report of one exercise as an HTML string."""
    genere_le = genere_le or datetime.now()
    notes = _Notes()
    corps = "".join([
        _section_synthese(m),
        _section_budget(m),
        _section_social(m),
        _section_pro(m, notes),
        _section_tableau(m),
        _section_evolution(m),
        _section_qualite(m, q),
    ])
    corps += _section_notes(notes)
    run = f" — run Dagster {_e(run_id)}" if run_id else ""
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Bilan de l’Insertion {m.periode[0]}-{m.periode[1]} (exercice {m.exercice})</title>
<style>{CSS}</style>
</head>
<body>
<header class="titre">
<div class="surtitre">Pôle Politiques d’Insertion (PPI)</div>
<h1>Bilan de l’Insertion {m.periode[0]}-{m.periode[1]}</h1>
<p class="sous-titre">Les actions d’insertion financées par le Département dans le cadre du
Programme Départemental d’Insertion (PDI) — exercice budgétaire {m.exercice}</p>
</header>
<nav><p>Sommaire : <a href="#synthese">Synthèse</a> · <a href="#budget">Budget</a> ·
<a href="#volet-social">Volet social &amp; santé</a> ·
<a href="#volet-professionnel">Volet professionnel</a> ·
<a href="#tableau">Tableau de synthèse</a> · <a href="#evolution">Évolution</a> ·
<a href="#qualite">Qualité des données</a> · <a href="#notes">Notes</a></p></nav>
{corps}
<footer>Généré le {genere_le.strftime("%d/%m/%Y à %H:%M")} à partir de marts.duckdb{run}.
Données agrégées uniquement : aucun identifiant de personne ne figure dans ce rapport.</footer>
</body>
</html>
"""
