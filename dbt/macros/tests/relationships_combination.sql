{#
    Generic test: composite foreign key. Every combination of `columns` in the model
    (rows where all of them are non null) exists as `to_columns` in `to`
    (`to_columns` defaults to `columns`), optionally among the rows of `to` matching `to_condition`.
    Fails with one row per orphan key and its number of rows, plus the `show` columns (e.g. the
    lineage, so that a failure says which file and row to look at) of its first row in their
    order: all taken from that one row.
    Usage:
        data_tests:
          - relationships_combination:
              arguments:
                columns: [exercice, num_convention]
                to: ref('stg_operateurs__actions')
                show: [source_file, source_row]
#}
{% test relationships_combination(model, columns, to, to_columns=none, to_condition=none, show=none) %}
{%- set to_cols = to_columns if to_columns else columns -%}
with child as (
    {%- set shown = show or [] %}
    select {{ columns | join(', ') }}, nb_lignes{% for c in shown %}, {{ c }}{% endfor %}
    from (
        select {{ columns | join(', ') }}{% for c in shown %}, {{ c }}{% endfor %},
            count(*) over (partition by {{ columns | join(', ') }}) as nb_lignes,
            row_number() over (
                partition by {{ columns | join(', ') }}
                {%- if shown %} order by {{ shown | join(', ') }}{% endif %}
            ) as rang
        from {{ model }}
        where {% for c in columns %}{{ c }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
    ) as rows_of_key
    where rang = 1
),

parent as (
    select distinct {% for c in to_cols %}{{ c }} as parent_{{ loop.index }}{% if not loop.last %}, {% endif %}{% endfor %}
    from {{ to }}
    {% if to_condition %}where {{ to_condition }}{% endif %}
)

select child.*
from child
left join parent
    on {% for c in columns %}child.{{ c }} = parent.parent_{{ loop.index }}{% if not loop.last %} and {% endif %}{% endfor %}
where parent.parent_1 is null
{% endtest %}
