with source as (
    select * from {{ ref('bilan_publie_chiffres_cles') }}
)

select
    cast(exercice as integer)                   as exercice,
    cast(perimetre as varchar)                  as perimetre,
    cast(indicateur as varchar)                 as indicateur,
    cast(valeur as decimal(18, 2))              as valeur,
    cast(comparaison as varchar)                as comparaison,
    cast(note as varchar)                       as note
from source
