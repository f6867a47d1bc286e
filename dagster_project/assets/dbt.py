"""dbt models, seeds and tests as Dagster assets and asset checks (dagster-dbt).

dbt's sources are the raw tables the ingestion asset writes, so the translator maps each source to
``raw/<table>``; tests become asset checks with their dbt severity. dbt is invoked once per run
(``dbt build``), in a subprocess that needs the warehouse file free: no step keeps it open.
"""


import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from packaging import version

from dagster_project import dbt_guard, dbt_workdir, settings, state
from dagster_project.assets.dbt_errors import raise_unless_successful
from dagster_project.checks.gx_suites import import_in_background
from dagster_project.dbt_manifest import TARGET, after_build, ensure_manifest

DBT_PROJECT = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR, target=TARGET
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
)
def bilan_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """``dbt build``: seeds, staging, intermediate, marts and their tests, in dependency order."""
    settings.export_env()
    # the warehouse is about to change: the last publication no longer describes it
    state.invalidate(settings.warehouse_dir())
    skip_version_probe(dbt)
    # dbt (bilan-dbt) ends if this process dies: a kill -9 must not leave it writing the
    # warehouse once this run's lock is gone (dagster_project/dbt_guard.py); it runs in the
    # warehouse folder, where its parse cache is every warehouse's (dbt_workdir.py). Set before
    # the GX import thread starts, restored once dbt is done (not inherited by anything else)
    with dbt_workdir.temporary_env({dbt_guard.PARENT_ENV: str(os.getpid()),
                                    dbt_workdir.WORKDIR_ENV: str(settings.warehouse_dir())}):
        if _runs_gx_checks(context):
            # the GX checks come next: their ~6 s import runs while dbt builds in its own process
            import_in_background()
        invocation = dbt.cli(["build"], context=context, raise_on_error=False)
        yield from invocation.stream()
    # dbt ran to its end (passed or not): the next build reuses its parse (dbt_manifest.py)
    # (dagster-dbt runs it in <target>/<step>-<run>-<id> and seeds that from <target>)
    run_target = Path(invocation.target_path)
    try:
        after_build(run_target, run_target.parent, prefix=context.op_execution_context.op.name)
    except OSError as exc:  # housekeeping: the build's own outcome decides the step
        context.log.warning(f"dossier target de dbt non entretenu : {exc}")
    # retried only when transient; data failures and interruptions are not (dbt_errors.py)
    raise_unless_successful(invocation, context)


def _runs_gx_checks(context: dg.AssetExecutionContext) -> bool:
    """Whether this run includes the GX checks (no check subselection: all of the job's)."""
    selection = context.run.asset_check_selection
    return selection is None or any(k.name.startswith("gx_") for k in selection)


def skip_version_probe(dbt: DbtCliResource) -> bool:
    """Spare dagster-dbt's ``dbt --version`` subprocess (~3 s, and it asks PyPI for the latest
    release) when the executable is this environment's own dbt: its version is then the dbt-core
    already imported here. ``DbtCliResource._cli_version`` is a ``functools.cached_property``;
    filling its cache is exactly what the first access would do, minus the subprocess."""
    exe = shutil.which(dbt.dbt_executable)
    # this environment's dbt, or bilan-dbt (the same dbt-core, run by dagster_project.dbt_guard)
    own = [p for p in (Path(sys.executable).parent / n for n in ("dbt", "bilan-dbt"))
           if p.exists()]
    if not exe or not any(Path(exe).resolve().samefile(p.resolve()) for p in own):
        return False
    try:
        from dbt.version import __version__ as dbt_core_version
    except ImportError:
        return False
    dbt.__dict__.setdefault("_cli_version", version.parse(dbt_core_version))
    # dagster-dbt also builds an in-process dbt adapter before each invocation (profile, project
    # and macros loaded again: 1-4 s); it only serves .fetch_column_metadata()/.fetch_row_counts(),
    # which this asset does not use. Without it the invocation is the same `dbt build` subprocess
    # and the same events.
    dbt.__dict__.setdefault("_initialize_dbt_core_adapter", _no_adapter)
    return True


def _no_adapter(_args) -> None:
    return None
