with source as (
    select * from {{ ref('thematiques') }}
)

select
    cast(code_thematique as varchar)            as code_thematique,
    cast(libelle_thematique as varchar)         as libelle_thematique,
    cast(code_domaine as varchar)               as code_domaine,
    cast(libelle_domaine as varchar)            as libelle_domaine,
    cast(code_type_action as varchar)           as code_type_action,
    cast(libelle_type_action as varchar)        as libelle_type_action,
    cast(nature as varchar)                     as nature,
    cast(nullif(trim(indicateurs_specifiques), '') as varchar) as indicateurs_specifiques
from source
