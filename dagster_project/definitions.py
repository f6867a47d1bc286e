"""The one Dagster code location of bilan-insertion."""

import dagster as dg

from dagster_project import settings  # noqa: F401  (telemetry off before anything else)
from dagster_project.assets.dbt import bilan_dbt_assets
from dagster_project.assets.ingestion import raw_tables
from dagster_project.assets.publication import marts_publies
from dagster_project.assets.rapport import rapport_bilan
from dagster_project.checks.conservation import manifest_conservation
from dagster_project.checks.paiements import paiements_comptes
from dagster_project.checks.quality import GX_CHECKS
from dagster_project.checks.refus import feuilles_non_lues, fichiers_refuses
from dagster_project.concurrency_wait import install as _sleep_while_waiting_for_a_slot
from dagster_project.jobs import NIGHTLY_JOB
from dagster_project.resources import WarehouseResource, dbt_resource
from dagster_project.schedules.nightly import nightly_schedule
from dagster_project.sensors.alerts import run_failure_alert
from dagster_project.sensors.raw_drop import raw_drop_sensor

_sleep_while_waiting_for_a_slot()

defs = dg.Definitions(
    assets=[raw_tables, bilan_dbt_assets, marts_publies, rapport_bilan],
    asset_checks=[manifest_conservation, paiements_comptes, fichiers_refuses, feuilles_non_lues,
                  *GX_CHECKS],
    jobs=[NIGHTLY_JOB],
    schedules=[nightly_schedule],
    sensors=[raw_drop_sensor, run_failure_alert],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
)
