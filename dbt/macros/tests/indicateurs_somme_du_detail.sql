{#
    Generic test (model level) for the key figures (long format: exercice, perimetre,
    indicateur, valeur): each of `indicateurs` (the key figure's name → the detail's column) is
    the sum of the detail's column rounded once to the key figures' hundredth (an ETP declared
    to the thousandth or beyond), for perimetre `total` (per exercice) and for each value of
    `par` (per exercice and that value, e.g. each type of action). A sum that is NULL (a figure
    the perimetre does not have, e.g. accompaniments of RU actions) is not checked. Fails with
    one row per figure missing or differing: expected sum, published value.
    Usage:
        data_tests:
          - indicateurs_somme_du_detail:
              arguments:
                detail: ref('fct_actions')
                par: code_type_action
                indicateurs: {etp: etp, montant_paye_eur: montant_paye_eur}
#}
{% test indicateurs_somme_du_detail(model, detail, indicateurs, par) %}
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
)

select attendu.exercice, attendu.perimetre, attendu.indicateur, attendu.attendu, modele.valeur
from attendu
left join {{ model }} as modele
    on modele.exercice = attendu.exercice
    and modele.perimetre = attendu.perimetre
    and modele.indicateur = attendu.indicateur
where modele.valeur is distinct from attendu.attendu
{% endtest %}
