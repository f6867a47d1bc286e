{#
    Generic test: none of `columns` is null. Fails with the offending rows.
#}
{% test not_null_combination(model, columns) %}
select *
from {{ model }}
where {% for c in columns %}{{ c }} is null{% if not loop.last %} or {% endif %}{% endfor %}
{% endtest %}
