{#
    Generic test: a boolean SQL `expression` holds on every row (optionally only on rows
    matching `condition`). Fails with the rows where it is false or null.
    May be declared at model or column level (the expression is written in full either way).
    Usage:
        data_tests:
          - expression_is_true:
              arguments:
                expression: "date_sortie >= date_entree"
                condition: "date_sortie is not null"
#}
{% test expression_is_true(model, expression, condition=none, column_name=none) %}
select *
from {{ model }}
where
    {% if condition %}({{ condition }}) and {% endif %}
    not coalesce(({{ expression }}), false)
{% endtest %}
