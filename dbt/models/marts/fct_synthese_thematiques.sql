-- Published: the synthesis table of the report, one row per exercice × every thematic of
-- the nomenclature. Copied to the analysts' database as `synthese_thematiques`.
select
    exercice,
    code_thematique,
    libelle_thematique,
    code_domaine,
    libelle_domaine,
    code_type_action,
    nb_actions,
    montant_paye_eur,
    accompagnements,
    fins_accompagnement,
    insertions_durables,
    mises_en_parcours,
    sorties_emploi_formation
from {{ ref('int_thematiques__indicateurs') }}
