{#
    Generic test (model level) for the key figures (long format: exercice, perimetre,
    indicateur, valeur): each of `indicateurs` (the key figure's name → the detail's column) is
    the sum of the detail's column rounded once to the key figures' hundredth (an ETP declared
    to the thousandth or beyond), for perimetre `total` (per exercice) and for each value of
    `par` (per exercice and that value, e.g. each type of action). A sum that is NULL (a figure
    the perimetre does not have, e.g. accompaniments of RU actions) is not checked. The other
    way round, the model's figures of `total` and of every value of `par` listed in
    `valeurs_par` (a relation with a column `par`: the nomenclature) that no detail row stands
    for (a type of action without action, a figure its actions do not have) are 0 or blank.
    Fails with one row per figure missing or differing: expected sum, published value.
    Usage:
        data_tests:
          - indicateurs_somme_du_detail:
              arguments:
                detail: ref('fct_actions')
                par: code_type_action
                valeurs_par: ref('dim_thematiques')
                indicateurs: {etp: etp, montant_paye_eur: montant_paye_eur}
#}
{% test indicateurs_somme_du_detail(model, detail, indicateurs, par, valeurs_par) %}
with sommes as (
    {%- for perimetre in ["'total'", par] %}
    select
        exercice,
        {{ perimetre }} as perimetre,
        {%- for indicateur, colonne in indicateurs.items() %}
        cast(sum({{ colonne }}) as decimal(38, 2)) as {{ indicateur }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ detail }}
    group by all
    {{ 'union all by name' if not loop.last }}
    {%- endfor %}
),

attendu as (
    unpivot sommes
    on {{ indicateurs.keys() | join(', ') }}
    into name indicateur value attendu
),

perimetres as (
    select 'total' as perimetre
    union
    select distinct cast({{ par }} as varchar) from {{ valeurs_par }}
),

publie as (
    select modele.exercice, modele.perimetre, modele.indicateur, modele.valeur
    from {{ model }} as modele
    where modele.perimetre in (select perimetre from perimetres)
        and modele.indicateur in ({% for i in indicateurs %}'{{ i }}'{{ ', ' if not loop.last }}{% endfor %})
)

select
    coalesce(attendu.exercice, publie.exercice) as exercice,
    coalesce(attendu.perimetre, publie.perimetre) as perimetre,
    coalesce(attendu.indicateur, publie.indicateur) as indicateur,
    attendu.attendu,
    publie.valeur
from attendu
full outer join publie
    on publie.exercice = attendu.exercice
    and publie.perimetre = attendu.perimetre
    and publie.indicateur = attendu.indicateur
where (attendu.exercice is not null and publie.valeur is distinct from attendu.attendu)
    or (attendu.exercice is null and coalesce(publie.valeur, 0) <> 0)
{% endtest %}
