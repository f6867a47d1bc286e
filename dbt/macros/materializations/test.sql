{#-
    dbt's own test materialization (dbt-adapters, materializations/tests/test.sql), except that a
    test's failing rows are stored only when there are some.

    Why: every test stores its failing rows as a view in schema dbt_test__audit
    (dbt_project.yml: store_failures_as view), where `bilan run` shows a failed test's first rows
    (file, sheet, row, convention). dbt creates that view for each of the ~180 tests on every
    build, passing or not: a drop, a create and a commit each, 40 % of `dbt build` (11 s of 27 s
    on the 2017 drop, every nightly run). Here the test's query runs first; only a test that
    warns or fails gets its view, built from the same query. A passing test's view from an
    earlier build is dropped, so dbt_test__audit never shows rows a test no longer finds.
    Same statuses, same failures count, same relation names (the manifest's relation_name) as
    dbt's; tests/test_dbt_project.py proves views appear for failing tests and go once they pass.
-#}
{%- materialization test, adapter='duckdb' -%}

  {% set relations = [] %}
  {% set limit = config.get('limit') %}
  {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}

  {% set sql_with_limit %}
    {{ get_limit_subquery_sql(sql, limit) }}
  {% endset %}

  {% call statement('main', fetch_result=True) -%}
    {% if sql_header %}{{ sql_header }}{% endif %}
    {{ get_test_sql(sql_with_limit, config.get('fail_calc'), config.get('warn_if'),
                    config.get('error_if'), limit=none) }}
  {%- endcall %}

  {% if should_store_failures() %}
    {% set store_failures_as = config.get('store_failures_as') or 'table' %}
    {% if store_failures_as not in ['table', 'view'] %}
      {{ exceptions.raise_compiler_error(
          "'" ~ store_failures_as ~ "' is not a valid value for `store_failures_as`. "
          "Accepted values are: ['ephemeral', 'table', 'view']") }}
    {% endif %}
    {# failures, should_warn, should_error: get_test_sql's three columns #}
    {% set outcome = load_result('main')['data'][0] %}
    {% set identifier = model['alias'] %}
    {% set old_relation = adapter.get_relation(
        database=database, schema=schema, identifier=identifier) %}
    {% if old_relation %}
      {% do adapter.drop_relation(old_relation) %}
    {% endif %}
    {% if outcome[1] or outcome[2] %}
      {% set target_relation = api.Relation.create(
          identifier=identifier, schema=schema, database=database, type=store_failures_as) %}
      {% call statement(auto_begin=True) %}
        {% if sql_header %}{{ sql_header }}{% endif %}
        {{ get_create_sql(target_relation, sql_with_limit) }}
      {% endcall %}
      {% do relations.append(target_relation) %}
    {% endif %}
    {% if old_relation or relations %}
      {{ adapter.commit() }}
    {% endif %}
  {% endif %}

  {{ return({'relations': relations}) }}

{%- endmaterialization -%}
