"""The nightly load at 02:00 Europe/Paris, every exercise in one run.

``execution_timezone`` makes Dagster fire exactly once a day across both daylight-saving changes
(tested in tests/test_orchestration_schedule.py): on the spring-forward day 02:00 does not exist
and the tick comes at 03:00 CEST (01:00 UTC); on the fall-back day 02:00 happens twice and the
tick fires once, at the second one (02:00 CET, 01:00 UTC). Exercise folders that appeared since the
last tick are registered as partitions first, so the run covers them even if the drop sensor is
off. The run key is the tick's date: a retried tick never launches a second run.

A night when nothing changed since the last successful publication (the check of ``bilan run``:
dagster_project/state.py) launches no run: the tick is skipped, saying so. A run would only load
the code location, plan its ~130 checks and skip every step after the ingestion's own check:
about 8 s of a 40 s cold run at SCALE=10, for the result already published (benchmarks/README.md).
"""

import dagster as dg

from dagster_project import settings
from dagster_project.assets.ingestion import unchanged_since_publication
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
    partitions = context.instance.get_dynamic_partitions(EXERCICE_PARTITIONS.name)
    if not partitions:
        return dg.SkipReason(f"aucun dossier d'exercice (AAAA/) sous {raw_dir}")
    verdict = unchanged_since_publication(
        context.instance, raw_dir, settings.warehouse_dir(),
        [int(k) for k in partitions if k.isdigit()])
    if verdict is not None:
        return dg.SkipReason(
            f"rien n'a changé depuis la publication du run {verdict.run_id} "
            f"({verdict.published_at}) : pas de run cette nuit (bilan run --force pour tout "
            "refaire)"
        )
    tick = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"nightly-{tick:%Y-%m-%d}" if tick else None,
        tags={**all_partitions_tags(context.instance), TAG_TRIGGER: "schedule"},
    )
