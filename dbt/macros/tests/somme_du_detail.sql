{#
    Generic test (model level): the model's figures are the sums of a detail model's, so that
    the published tables add up, e.g. each thematic's ETP and payments in the synthesis are the
    sums over its actions. For every group of `cles` present in `detail`, the model has a row
    whose `colonnes` equal the detail's sums (NULL matches NULL: a figure left blank for the
    thematic's nature); a model row whose group has no detail row (a thematic without action)
    has its `colonnes` at 0 or blank: a figure there stands for nothing the detail holds.
    Fails with one row per group missing or differing, with both values.
    Usage:
        data_tests:
          - somme_du_detail:
              arguments:
                detail: ref('fct_actions')
                cles: [exercice, code_thematique]
                colonnes: [etp, montant_paye_eur]
#}
{% test somme_du_detail(model, detail, cles, colonnes) %}
with attendu as (
    select
        {{ cles | join(', ') }},
        {%- for c in colonnes %}
        sum({{ c }}) as {{ c }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ detail }}
    group by all
)

select
    {%- for k in cles %}
    coalesce(attendu.{{ k }}, modele.{{ k }}) as {{ k }},
    {%- endfor %}
    {%- for c in colonnes %}
    attendu.{{ c }},
    modele.{{ c }} as {{ c }}_publie,
    {%- endfor %}
    modele.{{ cles[0] }} is null as ligne_absente,
    attendu.{{ cles[0] }} is null as sans_detail
from attendu
full outer join {{ model }} as modele
    on {% for k in cles %}modele.{{ k }} = attendu.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}
where modele.{{ cles[0] }} is null
    {%- for c in colonnes %}
    or (attendu.{{ cles[0] }} is not null and modele.{{ c }} is distinct from attendu.{{ c }})
    or (attendu.{{ cles[0] }} is null and coalesce(modele.{{ c }}, 0) <> 0)
    {%- endfor %}
{% endtest %}
