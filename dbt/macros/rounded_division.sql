{#
    numerateur / denominateur, exact, rounded half away from zero to `decimales` places (as the
    report's Python, ROUND_HALF_UP), typed decimal(38, decimales); NULL when either is NULL or the
    denominator is 0.

    Why not round(a / b, 2): DuckDB divides a DECIMAL in DOUBLE, and 44 237.74 € / 68 = 650.555
    exactly is the double 650.55499999…, which round() gives as 650.55 (a cent off, published:
    independent recomputation of the 2017 marts). Here both operands are scaled to integers
    (decimal(38, 6), then hugeint: exact for integers and for decimals of up to 6 places, which
    every operand is; no integer overflow) and divided as integers. An operand with more
    decimals (a quotient, an avg(), a double) is first rounded to 6 places, by DuckDB 1.5, or
    truncated, by DuckDB 1.0: not exact, and clients may disagree.

    dagster_project/reporting/views.py renders these macros for the analysts' views (one rule
    for marts and views); tests/test_rounding.py checks both against Python's Decimal.
    Usage: {{ rounded_division('montant_paye_eur', 'accompagnements') }}
           {{ percentage('insertions_durables', 'fins_accompagnement') }}
#}
{% macro rounded_division(numerateur, denominateur, decimales=2) -%}
{%- set n = 'cast(cast((' ~ numerateur ~ ') as decimal(38, 6)) * 1000000 as hugeint)' -%}
{%- set d = 'nullif(cast(cast((' ~ denominateur ~ ') as decimal(38, 6)) * 1000000 as hugeint), 0)' -%}
(cast(sign({{ n }}) * sign({{ d }})
    * ((2 * abs({{ n }}) * {{ 10 ** decimales }} + abs({{ d }})) // (2 * abs({{ d }})))
    as decimal(38, 0)){{ ' * 0.' ~ '0' * (decimales - 1) ~ '1' if decimales > 0 }})
{%- endmacro %}

{# A percentage with 2 decimals (see rounded_division). #}
{% macro percentage(part, whole) -%}
{{ rounded_division('100 * cast((' ~ part ~ ') as decimal(38, 6))', whole, 2) }}
{%- endmacro %}
