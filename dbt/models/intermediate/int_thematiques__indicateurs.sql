-- One row per loaded exercice × every thematic of the nomenclature (even with no action):
-- the synthesis table of the report. Accompaniment figures are NULL for thematics whose
-- nature is not `accompagnement`, 0 when an accompaniment thematic has no action.
with exercices as (
    select exercice from {{ ref('int_exercices__charges') }}
),

thematiques as (
    select * from {{ ref('int_nomenclature__thematiques') }}
),

actions as (
    select
        exercice,
        code_thematique,
        count(*)                                as nb_actions,
        count(distinct siret)                   as nb_partenaires,
        sum(etp)                                as etp,
        sum(montant_paye_eur)                   as montant_paye_eur,
        sum(accompagnements)                    as accompagnements,
        sum(fins_accompagnement)                as fins_accompagnement,
        sum(insertions_durables)                as insertions_durables,
        sum(mises_en_parcours)                  as mises_en_parcours,
        sum(sorties_emploi_formation)           as sorties_emploi_formation
    from {{ ref('int_actions__indicateurs') }}
    group by exercice, code_thematique
)

select
    exercices.exercice,
    thematiques.code_thematique,
    thematiques.libelle_thematique,
    thematiques.code_domaine,
    thematiques.libelle_domaine,
    thematiques.code_type_action,
    thematiques.nature,
    cast(coalesce(actions.nb_actions, 0) as bigint)                     as nb_actions,
    cast(coalesce(actions.nb_partenaires, 0) as bigint)                 as nb_partenaires,
    cast(coalesce(actions.etp, 0) as decimal(10, 2))                    as etp,
    cast(coalesce(actions.montant_paye_eur, 0) as decimal(14, 2))       as montant_paye_eur,
    {%- for col in ['accompagnements', 'fins_accompagnement', 'insertions_durables',
                    'mises_en_parcours', 'sorties_emploi_formation'] %}
    cast(case when thematiques.est_accompagnement then coalesce(actions.{{ col }}, 0) end as bigint)
                                                                        as {{ col }}{{ ',' if not loop.last }}
    {%- endfor %}
from exercices
cross join thematiques
left join actions
    on exercices.exercice = actions.exercice
    and thematiques.code_thematique = actions.code_thematique
