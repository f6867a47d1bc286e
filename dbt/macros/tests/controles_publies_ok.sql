{#
    Control totals: fails when any published figure differs from the figure computed by
    the pipeline (rows with statut = 'ko' in fct_controles_publies).
    Each failing row carries a human-readable `message`, e.g.
        "2017 synthese PRO-EMP-AME accompagnements: publié 7538, calculé 7536 (écart -2)"
    Configure with store_failures so the failing rows are kept in dbt_test__audit.
#}
{% test controles_publies_ok(model, statut_column='statut') %}
select
    exercice,
    source,
    perimetre,
    indicateur,
    valeur_publiee,
    valeur_calculee,
    comparaison,
    ecart,
    cast(exercice as varchar) || ' ' || source || ' ' || perimetre || ' ' || indicateur
        || ': publié ' || {{ _controle_nombre('valeur_publiee') }}
        || case when comparaison = 'minimum' then ' (minimum)' else '' end
        || ', calculé ' || {{ _controle_nombre('valeur_calculee') }}
        || ' (écart ' || {{ _controle_nombre('ecart') }} || ')' as message
from {{ model }}
where {{ statut_column }} = 'ko'
order by exercice, source, perimetre, indicateur
{% endtest %}

{# a decimal as text without a useless '.00'; 'non calculé' when null #}
{% macro _controle_nombre(column) -%}
coalesce(regexp_replace(cast({{ column }} as varchar), '\.00$', ''), 'non calculé')
{%- endmacro %}
