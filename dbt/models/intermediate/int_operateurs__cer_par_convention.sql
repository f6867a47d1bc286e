-- CER signed or renewed per référent-unique convention.
with cer as (
    select * from {{ ref('stg_operateurs__cer') }}
)

select
    exercice,
    num_convention,
    count(*)                                                              as nb_cer,
    count(distinct identifiant)                                           as personnes_cer,
    count(distinct identifiant) filter (where accompagnement_social)     as personnes_accompagnement_social
from cer
group by exercice, num_convention
