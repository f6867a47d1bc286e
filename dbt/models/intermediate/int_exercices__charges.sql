-- Exercices present in the warehouse (at least one workbook or one mandate).
with actions as (
    select exercice, count(*) as nb_conventions
    from {{ ref('int_operateurs__actions_enrichies') }}
    group by exercice
),

paiements as (
    select exercice, sum(nb_mandats) as nb_mandats
    from {{ ref('int_finances__paiements_par_convention') }}
    group by exercice
),

publies as (
    select distinct exercice from {{ ref('int_reference__valeurs_publiees') }}
)

select
    coalesce(actions.exercice, paiements.exercice)      as exercice,
    coalesce(actions.nb_conventions, 0)                 as nb_conventions,
    cast(coalesce(paiements.nb_mandats, 0) as bigint)   as nb_mandats,
    coalesce(actions.exercice, paiements.exercice) in (select exercice from publies) as a_chiffres_publies
from actions
full outer join paiements
    on actions.exercice = paiements.exercice
