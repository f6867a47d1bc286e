"""The nightly load at 02:00 Europe/Paris, every exercise in one run.

``execution_timezone`` makes Dagster fire once a day across both daylight-saving changes (on the
spring-forward day 02:00 does not exist and the tick comes at 03:00; on the fall-back day 02:00
happens twice and the tick fires once). Exercise folders that appeared since the last tick are
registered as partitions first, so the run covers them even if the drop sensor is off.
"""

import dagster as dg

from dagster_project import settings
from dagster_project.ingestion.discovery import discover_exercices
from dagster_project.jobs import NIGHTLY_JOB
from dagster_project.partitions import all_partitions_tags, sync_partitions

NIGHTLY_CRON = "0 2 * * *"
PARIS = "Europe/Paris"


@dg.schedule(
    name="bilan_nightly_0200_paris",
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=PARIS,
    job=NIGHTLY_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly load of every exercise at 02:00 Europe/Paris.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    sync_partitions(context.instance, discover_exercices(settings.raw_dir()))
    if not context.instance.get_dynamic_partitions("exercice"):
        return dg.SkipReason(f"no exercise folder under {settings.raw_dir()}")
    tick = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"nightly-{tick:%Y-%m-%d}" if tick else None,
        tags={**all_partitions_tags(context.instance), "bilan/trigger": "schedule"},
    )
