with source as (
    select * from {{ ref('bilan_publie_synthese') }}
)

select
    cast(exercice as integer)                   as exercice,
    cast(code_thematique as varchar)            as code_thematique,
    cast(thematique as varchar)                 as libelle_thematique,
    cast(nb_actions as bigint)                  as nb_actions,
    cast(montant_paye_eur as decimal(14, 2))    as montant_paye_eur,
    cast(accompagnements as bigint)             as accompagnements,
    cast(fins_accompagnement as bigint)         as fins_accompagnement,
    cast(insertions_durables as bigint)         as insertions_durables,
    cast(mises_en_parcours as bigint)           as mises_en_parcours,
    cast(sorties_emploi_formation as bigint)    as sorties_emploi_formation
from source
