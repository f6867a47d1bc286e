{#
    Generic test: for every distinct value of `par` in the model (e.g. every loaded
    exercice), the model has a row for every distinct combination of `columns` found in
    `reference` (e.g. every (perimetre, indicateur) pair of the published key figures).
    Fails with one row per missing (par, columns...) combination.
#}
{% test couvre_combinaisons(model, columns, reference, par) %}
with valeurs_par as (
    select distinct {{ par }} as par from {{ model }}
),

attendues as (
    select distinct {{ columns | join(', ') }} from {{ reference }}
),

presentes as (
    select distinct {{ par }} as par, {{ columns | join(', ') }} from {{ model }}
)

select valeurs_par.par as {{ par }}, {% for c in columns %}attendues.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
from valeurs_par
cross join attendues
left join presentes
    on presentes.par = valeurs_par.par
    {% for c in columns %}and presentes.{{ c }} = attendues.{{ c }}
    {% endfor %}
where presentes.par is null
{% endtest %}
