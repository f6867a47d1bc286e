{#
    Generic test: the combination of `columns` is unique (composite key).
    Fails with one row per duplicated key, with the number of occurrences.
    Usage (model level):
        data_tests:
          - unique_combination:
              arguments:
                columns: [exercice, num_convention]
#}
{% test unique_combination(model, columns) %}
select
    {{ columns | join(', ') }},
    count(*) as nb_occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
