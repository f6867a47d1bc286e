{#
    Generic test (model level): the model's figures are the sums of a detail model's, so that
    the published tables add up, e.g. each thematic's ETP and payments in the synthesis are the
    sums over its actions. For every group of `cles` present in `detail`, the model has a row
    whose `colonnes` equal the detail's sums (NULL matches NULL: a figure left blank for the
    thematic's nature). Fails with one row per group missing or differing, with both values.
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
    attendu.*,
    {%- for c in colonnes %}
    modele.{{ c }} as {{ c }}_publie,
    {%- endfor %}
    modele.{{ cles[0] }} is null as ligne_absente
from attendu
left join {{ model }} as modele
    on {% for k in cles %}modele.{{ k }} = attendu.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}
where modele.{{ cles[0] }} is null
    {%- for c in colonnes %}
    or modele.{{ c }} is distinct from attendu.{{ c }}
    {%- endfor %}
{% endtest %}
