-- The thematic nomenclature: thematic → domain → type of action, nature, specific indicators.
select
    code_thematique,
    libelle_thematique,
    code_domaine,
    libelle_domaine,
    code_type_action,
    libelle_type_action,
    nature,
    indicateurs_specifiques
from {{ ref('int_nomenclature__thematiques') }}
