"""Views published in ``marts.duckdb`` beside the tables: stable names analysts can rely on.

The SQL is run inside the new published file (see :func:`dagster_project.publication.publish`,
``views_sql``), with unqualified table names so that the views resolve wherever the file is
opened. A view is stored as SQL text and re-bound by the client that opens the file, so this SQL
sticks to syntax every DuckDB 1.x client parses (no newer-than-1.0 features). Every view and
column is documented in ``docs/analysts.md``; renaming one is a breaking change for analysts.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

VIEW_NAMES = (
    "v_synthese_thematiques",
    "v_chiffres_cles",
    "v_actions",
    "v_evolution_thematiques",
    "v_budget_par_domaine",
    "v_sorties_par_categorie",
    "v_operateurs",
)



_MACROS = Path(__file__).resolve().parents[2] / "dbt" / "macros" / "rounded_division.sql"


@cache
def _dbt_macros():
    """dbt's macros ``rounded_division`` and ``percentage`` (plain Jinja), so that the views and
    the marts divide by one rule, written once."""
    import jinja2

    return jinja2.Environment().from_string(_MACROS.read_text(encoding="utf-8")).module


def rounded_division(numerateur: str, denominateur: str, decimales: int = 2) -> str:
    """SQL for numerateur / denominateur, exact, rounded half away from zero (as the report's
    ``fr.arrondi``); NULL when either is NULL or the denominator is 0: dbt's macro, whose
    comment says why not ``round(a / b, 2)`` (DuckDB divides a DECIMAL in DOUBLE: 650.555 gave
    650.55). Checked against Python's Decimal by tests/test_rounding.py."""
    return str(_dbt_macros().rounded_division(numerateur, denominateur, decimales)).strip()


def percentage(part: str, whole: str) -> str:
    """SQL for a percentage with 2 decimals (dbt's macro ``percentage``)."""
    return str(_dbt_macros().percentage(part, whole)).strip()


def _pct(part: str, whole: str) -> str:
    """A percentage with 2 decimals; NULL (not an error, not 0) when the whole is 0."""
    return f"CAST({percentage(part, whole)} AS DECIMAL(18, 2))"


def _per(amount: str, count: str) -> str:
    """An amount in euros per unit, 2 decimals; NULL when there is no unit."""
    return f"CAST({rounded_division(amount, count)} AS DECIMAL(14, 2))"


_TAUX_SORTIES = _pct("sorties_emploi_formation", "fins_accompagnement")
_PAR_ACCOMPAGNEMENT = _per("montant_paye_eur", "accompagnements")

VIEWS_SQL = f"""
CREATE OR REPLACE VIEW v_synthese_thematiques AS
SELECT
    exercice,
    code_type_action,
    code_domaine,
    libelle_domaine,
    code_thematique,
    libelle_thematique,
    nb_actions,
    montant_paye_eur,
    {_pct("montant_paye_eur", "sum(montant_paye_eur) OVER (PARTITION BY exercice)")}
        AS part_budget_pct,
    accompagnements,
    fins_accompagnement,
    insertions_durables,
    mises_en_parcours,
    sorties_emploi_formation,
    {_pct("insertions_durables", "fins_accompagnement")} AS taux_insertions_durables_pct,
    {_TAUX_SORTIES} AS taux_sorties_emploi_formation_pct,
    {_PAR_ACCOMPAGNEMENT} AS montant_par_accompagnement_eur
FROM synthese_thematiques;

CREATE OR REPLACE VIEW v_chiffres_cles AS
WITH types AS (
    SELECT DISTINCT code_type_action AS code FROM synthese_thematiques
),
libelles AS (
    SELECT 'total' AS code, 'total' AS type_perimetre, 'Ensemble du programme' AS libelle
    UNION ALL
    SELECT code, 'type_action',
        CASE code
            WHEN 'PRO' THEN 'Volet professionnel'
            WHEN 'SOC' THEN 'Volet social & santé'
            WHEN 'RU' THEN 'Référents uniques'
            ELSE code
        END
    FROM types
    UNION ALL
    SELECT DISTINCT code_domaine, 'domaine', libelle_domaine
    FROM synthese_thematiques
    WHERE code_domaine NOT IN (SELECT code FROM types)
    UNION ALL
    SELECT DISTINCT code_thematique, 'thematique', libelle_thematique
    FROM synthese_thematiques
    WHERE code_thematique NOT IN (SELECT code FROM types)
)
SELECT
    c.exercice,
    c.perimetre,
    coalesce(l.type_perimetre, 'autre') AS type_perimetre,
    coalesce(l.libelle, c.perimetre) AS libelle_perimetre,
    c.indicateur,
    c.valeur
FROM chiffres_cles AS c
LEFT JOIN libelles AS l ON l.code = c.perimetre;

CREATE OR REPLACE VIEW v_actions AS
SELECT
    *,
    {_TAUX_SORTIES} AS taux_sorties_emploi_formation_pct,
    {_PAR_ACCOMPAGNEMENT} AS montant_par_accompagnement_eur
FROM actions;

CREATE OR REPLACE VIEW v_evolution_thematiques AS
SELECT
    exercice,
    exercice_precedent,
    code_type_action,
    code_domaine,
    libelle_domaine,
    code_thematique,
    libelle_thematique,
    nb_actions,
    nb_actions_precedent,
    montant_paye_eur,
    montant_paye_eur_precedent,
    evolution_montant_eur,
    evolution_montant_pct,
    accompagnements,
    accompagnements_precedent,
    evolution_accompagnements_pct,
    fins_accompagnement,
    fins_accompagnement_precedent,
    sorties_emploi_formation,
    sorties_emploi_formation_precedent,
    taux_sorties_emploi_formation_pct,
    taux_sorties_emploi_formation_precedent_pct,
    evolution_taux_sorties_emploi_formation_pts
FROM evolution_thematiques;

CREATE OR REPLACE VIEW v_budget_par_domaine AS
SELECT
    exercice,
    code_type_action,
    code_domaine,
    libelle_domaine,
    CAST(sum(nb_actions) AS BIGINT) AS nb_actions,
    CAST(sum(montant_paye_eur) AS DECIMAL(14, 2)) AS montant_paye_eur,
    {_pct("sum(montant_paye_eur)", "sum(sum(montant_paye_eur)) OVER (PARTITION BY exercice)")}
        AS part_budget_pct
FROM synthese_thematiques
GROUP BY exercice, code_type_action, code_domaine, libelle_domaine;

CREATE OR REPLACE VIEW v_sorties_par_categorie AS
WITH volets AS (
    SELECT
        exercice,
        code_type_action AS volet,
        sum(fins_accompagnement) AS fins,
        sum(insertions_durables) AS insertion_durable,
        sum(mises_en_parcours) AS mise_en_parcours,
        sum(sorties_dynamique_parcours) AS dynamique_parcours,
        sum(sorties_autres_motifs) - sum(sorties_ouverture_droits) AS autre_motif,
        sum(sorties_ouverture_droits) AS ouverture_droits
    FROM actions
    WHERE nature = 'accompagnement'
    GROUP BY exercice, code_type_action
),
categories AS (
    SELECT exercice, volet, fins, 1 AS ordre, 'insertion_durable' AS categorie,
        'Insertion durable' AS libelle_categorie, insertion_durable AS nb_sorties FROM volets
    UNION ALL
    SELECT exercice, volet, fins, 2, 'mise_en_parcours',
        'Mise en parcours professionnel', mise_en_parcours FROM volets
    UNION ALL
    SELECT exercice, volet, fins, 3, 'dynamique_parcours',
        'Dynamique de parcours', dynamique_parcours FROM volets
    UNION ALL
    SELECT exercice, volet, fins, 4, 'autre_motif',
        'Autres motifs (hors ouverture de droits)', autre_motif FROM volets
    UNION ALL
    SELECT exercice, volet, fins, 5, 'ouverture_droits',
        'Ouverture de droit à une autre prestation', ouverture_droits FROM volets
)
SELECT
    exercice,
    volet,
    ordre,
    categorie,
    libelle_categorie,
    CAST(nb_sorties AS BIGINT) AS nb_sorties,
    CAST(fins AS BIGINT) AS fins_accompagnement,
    {_pct("nb_sorties", "fins")} AS part_pct
FROM categories;

CREATE OR REPLACE VIEW v_operateurs AS
SELECT
    exercice,
    siret,
    min(operateur) AS operateur,
    CAST(count(*) AS BIGINT) AS nb_actions,
    CAST(sum(montant_paye_eur) AS DECIMAL(14, 2)) AS montant_paye_eur,
    -- round() first: a DuckDB 1.1 client (1.1.3, checked by a review) truncates a DECIMAL cast
    -- to fewer decimals (2.665 -> 2.66); this file is opened by any 1.x client
    -- DECIMAL(18,2) as the key figures' ETP: an amount typed in an ETP cell is only a warning,
    -- and a narrower type made every query on the view fail (cold review)
    CAST(round(sum(etp), 2) AS DECIMAL(18, 2)) AS etp,
    CAST(sum(accompagnements) AS BIGINT) AS accompagnements,
    CAST(sum(fins_accompagnement) AS BIGINT) AS fins_accompagnement,
    CAST(sum(insertions_durables) AS BIGINT) AS insertions_durables,
    CAST(sum(sorties_emploi_formation) AS BIGINT) AS sorties_emploi_formation,
    {_pct("sum(insertions_durables)", "sum(fins_accompagnement)")}
        AS taux_insertions_durables_pct,
    {_pct("sum(sorties_emploi_formation)", "sum(fins_accompagnement)")}
        AS taux_sorties_emploi_formation_pct
FROM actions
GROUP BY exercice, siret;
"""
