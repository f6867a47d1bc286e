"""dbt models, seeds and tests as Dagster assets and asset checks (dagster-dbt).

dbt's sources are the raw tables the ingestion asset writes, so the translator maps each source to
``raw/<table>``; tests become asset checks with their dbt severity. dbt is invoked once per run
(``dbt build``), in a subprocess that needs the warehouse file free: no step keeps it open.
"""


from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from dagster_project import settings
from dagster_project.assets.ingestion import IO_RETRY
from dagster_project.dbt_manifest import ensure_manifest

DBT_PROJECT = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR, target="dev"
)


class BilanDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


TRANSLATOR = BilanDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=ensure_manifest(DBT_PROJECT),
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    pool="warehouse_writer",
    retry_policy=IO_RETRY,
)
def bilan_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """``dbt build``: seeds, staging, intermediate, marts and their tests, in dependency order."""
    settings.export_env()
    yield from dbt.cli(["build"], context=context).stream()
