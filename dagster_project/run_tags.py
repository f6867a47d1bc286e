"""The tags ``bilan run`` puts on its runs, and how to tell its runs from copies of their tags.

Why this module exists: ``bilan run`` tags its runs (launcher, pid, host, warehouse) so that the
next ``bilan run`` can close one whose process was killed, and so that an alert can say who
launched a run. But Dagster copies a run's tags into its re-executions: re-executing the steps
of a ``bilan run`` run from the UI starts, in the daemon, a run tagged ``bilan/launcher=cli``
with the parent's long-dead pid. Read as a CLI run, that live run was closed as dead by the next
``bilan run`` (``cli.reap_dead_runs``), and its alert said "lancé par bilan run". A run is
``bilan run``'s own when it carries the tag and was not launched through the code location:
``bilan run`` executes in process (``execute_in_process``, ``execute_job``), so its runs have no
``remote_job_origin``, which Dagster sets on every run it launches (UI, schedule, sensor, run
retries) and never copies from a parent. (For the same reason the UI's *Re-execute → From
failure* refuses a ``bilan run`` run: ``bilan run --from-failure`` does it, tagging its run
as Dagster's re-execution would, :func:`reexecution_tags`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not imported at run time: `bilan run` skips in a second without Dagster
    import dagster as dg

TAG_LAUNCHER, TAG_PID, TAG_HOST, TAG_WAREHOUSE = (
    "bilan/launcher", "bilan/pid", "bilan/host", "bilan/warehouse"
)
TAG_TRIGGER = "bilan/trigger"  # the schedule or the sensor that requested the run


def launched_by_cli(run: dg.DagsterRun) -> bool:
    """Whether ``bilan run`` itself executed this run (not a copy of its tags)."""
    return run.tags.get(TAG_LAUNCHER) == "cli" and run.remote_job_origin is None


def reexecution_tags(parent: dg.DagsterRun) -> dict[str, str]:
    """The tags Dagster's re-execution from failure gives a run (``execute_job`` gives none):
    the parent's (its exercises' partition range, its trigger), but for those Dagster drops on a
    retry, and the parent and root run ids, which group the runs in the UI."""
    from dagster._core.storage.tags import (
        PARENT_RUN_ID_TAG,
        RESUME_RETRY_TAG,
        ROOT_RUN_ID_TAG,
        TAGS_TO_MAYBE_OMIT_ON_RETRY,
    )

    kept = {k: v for k, v in parent.tags.items() if k not in TAGS_TO_MAYBE_OMIT_ON_RETRY}
    return {**kept, PARENT_RUN_ID_TAG: parent.run_id,
            ROOT_RUN_ID_TAG: parent.root_run_id or parent.run_id, RESUME_RETRY_TAG: "true"}
