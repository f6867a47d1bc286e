-- Published: year-over-year view of the synthesis (int_thematiques__evolution, where the rules
-- are), one row per loaded exercice × thematic of the nomenclature. Copied to the analysts'
-- database as `evolution_thematiques`.
select
    exercice,
    exercice_precedent,
    code_thematique,
    libelle_thematique,
    code_domaine,
    libelle_domaine,
    code_type_action,
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
from {{ ref('int_thematiques__evolution') }}
