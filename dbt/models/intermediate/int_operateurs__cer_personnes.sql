-- One row per exercice and person with a CER: a person contracted by several
-- référent-unique conventions counts once in the exercice's totals.
with cer as (
    select * from {{ ref('stg_operateurs__cer') }}
)

select
    exercice,
    identifiant,
    count(*)                                 as nb_cer,
    count(distinct num_convention)           as nb_conventions,
    bool_or(coalesce(accompagnement_social, false)) as a_accompagnement_social
from cer
group by exercice, identifiant
