{#-
    dbt's own test materialization (dbt-adapters, materializations/tests/test.sql), except that a
    test's failing rows are stored only when the test warns or fails.

    Why: every test stores its failing rows as a view in schema dbt_test__audit
    (dbt_project.yml: store_failures_as view), where `bilan run` shows a failed test's first rows
    (file, sheet, row, convention). dbt creates that view for each of the ~180 tests on every
    build, passing or not: a drop, a create and a commit each, up to 40 % of `dbt build` (11 s
    of 27 s on the 2017 drop, every nightly run). Here the test's query runs first, and only a
    test whose status is warn or fail gets its view, built from the same query.

    Same statuses, same failures count, same relation names (the manifest's relation_name) as
    dbt's. Differences, on purpose: a passing test stores nothing, not even rows below a
    `warn_if` threshold (this project sets none); the old view is dropped before the query, so
    a test that passes or errors leaves none (dbt also drops it first). A test dbt skips keeps
    the view of its last run, as with dbt. tests/test_dbt_project.py proves views appear for
    failing and warning tests and go once they pass.
-#}
{%- materialization test, adapter='duckdb' -%}

  {% set relations = [] %}
  {% set limit = config.get('limit') %}
  {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}

  {% set sql_with_limit %}
    {{ get_limit_subquery_sql(sql, limit) }}
  {% endset %}

  {% set store = should_store_failures() %}
  {% if store %}
    {% set store_failures_as = config.get('store_failures_as') or 'table' %}
    {% if store_failures_as not in ['table', 'view'] %}
      {{ exceptions.raise_compiler_error(
          "'" ~ store_failures_as ~ "' is not a valid value for `store_failures_as`. "
          "Accepted values are: ['ephemeral', 'table', 'view']") }}
    {% endif %}
    {% set identifier = model['alias'] %}
    {% set old_relation = adapter.get_relation(
        database=database, schema=schema, identifier=identifier) %}
    {% if old_relation %}
      {# no transaction is open yet: the drop commits by itself (a query that errors below
         cannot roll it back) #}
      {% do adapter.drop_relation(old_relation) %}
    {% endif %}
  {% endif %}

  {% call statement('main', fetch_result=True) -%}
    {% if sql_header %}{{ sql_header }}{% endif %}
    {{ get_test_sql(sql_with_limit, config.get('fail_calc'), config.get('warn_if'),
                    config.get('error_if'), limit=none) }}
  {%- endcall %}

  {% if store %}
    {# failures, should_warn, should_error: get_test_sql's columns; the status dbt gives #}
    {% set outcome = load_result('main')['data'][0] %}
    {% set fails = config.get('severity') | upper == 'ERROR' and outcome[2] %}
    {% if fails or outcome[1] %}
      {% set target_relation = api.Relation.create(
          identifier=identifier, schema=schema, database=database, type=store_failures_as) %}
      {% call statement(auto_begin=True) %}
        {% if sql_header %}{{ sql_header }}{% endif %}
        {{ get_create_sql(target_relation, sql_with_limit) }}
      {% endcall %}
      {% do relations.append(target_relation) %}
    {% endif %}
    {# the main statement opened a transaction: a read only, unless a view was created #}
    {{ adapter.commit() }}
  {% endif %}

  {{ return({'relations': relations}) }}

{%- endmaterialization -%}
