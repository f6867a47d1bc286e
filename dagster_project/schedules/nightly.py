"""The nightly load at 02:00 Europe/Paris, every exercise in one run.

``execution_timezone`` makes Dagster fire exactly once a day across both daylight-saving changes
(tested in tests/test_orchestration_schedule.py): on the spring-forward day 02:00 does not exist
and the tick comes at 03:00 CEST (01:00 UTC); on the fall-back day 02:00 happens twice and the
tick fires once, at the second one (02:00 CET, 01:00 UTC). Exercise folders that appeared since the
last tick are registered as partitions first, so the run covers them even if the drop sensor is
off. The run key is the tick's date: a retried tick never launches a second run.
"""

import dagster as dg

from dagster_project import settings
from dagster_project.ingestion.discovery import discover_exercices
from dagster_project.jobs import NIGHTLY_JOB
from dagster_project.partitions import EXERCICE_PARTITIONS, all_partitions_tags, sync_partitions
from dagster_project.run_tags import TAG_TRIGGER

NIGHTLY_CRON = "0 2 * * *"
PARIS = "Europe/Paris"


@dg.schedule(
    name="bilan_nightly_0200_paris",
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=PARIS,
    job=NIGHTLY_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly load of every exercise at 02:00 Europe/Paris (once a day, DST included).",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    raw_dir = settings.raw_dir()
    new = sync_partitions(context.instance, discover_exercices(raw_dir))
    if new:
        context.log.info(f"new exercise partitions: {', '.join(new)}")
    if not context.instance.get_dynamic_partitions(EXERCICE_PARTITIONS.name):
        return dg.SkipReason(f"aucun dossier d'exercice (AAAA/) sous {raw_dir}")
    tick = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"nightly-{tick:%Y-%m-%d}" if tick else None,
        tags={**all_partitions_tags(context.instance), TAG_TRIGGER: "schedule"},
    )
