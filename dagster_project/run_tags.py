"""The tags ``bilan run`` puts on its runs, and how to tell its runs from copies of their tags.

Why this module exists: ``bilan run`` tags its runs (launcher, pid, host, warehouse) so that the
next ``bilan run`` can close one whose process was killed, and so that an alert can say who
launched a run. But Dagster copies a run's tags into its re-executions: *Re-execute → From
failure* in the UI (the path README gives the on-call engineer) starts, in the daemon, a run
tagged ``bilan/launcher=cli`` with the parent's long-dead pid. Read as a CLI run, that live run
was closed as dead by the next ``bilan run`` (``cli.reap_dead_runs``), and its alert said "lancé
par bilan run". A run is ``bilan run``'s own only when it is not such a copy: a re-execution by
``bilan run --from-failure`` carries its own pid, a copy its parent's.
"""

from __future__ import annotations

from collections.abc import Mapping

TAG_LAUNCHER, TAG_PID, TAG_HOST, TAG_WAREHOUSE = (
    "bilan/launcher", "bilan/pid", "bilan/host", "bilan/warehouse"
)
TAG_TRIGGER = "bilan/trigger"  # the schedule or the sensor that requested the run
# Dagster's own (dagster._core.storage.tags): set on a retry by the daemon's run retries
RETRY_NUMBER_TAG = "dagster/retry_number"


def launched_by_cli(
    tags: Mapping[str, str],
    parent_run_id: str | None = None,
    parent_tags: Mapping[str, str] | None = None,
) -> bool:
    """Whether ``bilan run`` itself started this run (``parent_tags``: its parent's, None when
    the parent is gone: a copy cannot be told apart then, so the run is not called ours)."""
    if tags.get(TAG_LAUNCHER) != "cli":
        return False
    if parent_run_id is None:
        return True
    if parent_tags is None:
        return False
    return ((tags.get(TAG_PID), tags.get(TAG_HOST))
            != (parent_tags.get(TAG_PID), parent_tags.get(TAG_HOST)))
