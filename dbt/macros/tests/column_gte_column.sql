{#
    Generic test (column level): `column_name` >= `other_column` on every row where both
    are set, e.g. an exit date on or after the entry date. Fails with the offending rows.
    Usage:
        columns:
          - name: date_sortie
            data_tests:
              - column_gte_column:
                  arguments:
                    other_column: date_entree
#}
{% test column_gte_column(model, column_name, other_column) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and {{ other_column }} is not null
  and {{ column_name }} < {{ other_column }}
{% endtest %}
