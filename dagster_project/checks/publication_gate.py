"""What the publication verifies in the Dagster instance before copying a single figure.

Why this module exists: Dagster gates an asset only on the blocking checks of its *direct*
upstream assets, and only on checks that ran *in the same run*. The publication depends on every
asset that carries a blocking check (see :mod:`dagster_project.assets.publication`), which gates
the nightly job; but "Materialize" on ``analystes/marts_publies`` alone (UI, a re-run of the step)
runs no check at all and would copy whatever the marts schema holds, e.g. the marts a failed run
rebuilt before its test failed. So the publication also reads, for every blocking check upstream,
its latest execution in the instance, and refuses unless that execution

* ran and passed (a failed evaluation, or one planned in a run that failed, or in a run still
  going that rebuilt the asset, before it ran, refuses; a check a *successful* run planned but
  did not run, because that run skipped everything as nothing had changed, or one planned by a
  run still queued or yet to rebuild the asset, leaves the previous evaluation in force), and
* evaluated the asset's latest materialization (same run, or
  ``AssetCheckEvaluation.target_materialization_data`` = that materialization's storage id, or,
  when Dagster recorded no target, an evaluation stored after it): an asset rebuilt since its
  check passed is not verified.

It also refuses marts built from an older load (:func:`stale_assets`): every model upstream of
the publication must have been materialized after each of its own upstream assets, so that
"Materialize" on the ingestion then on the publication (or both selected without dbt) cannot
publish the previous load's figures over a new one, their checks still passing on them.

This follows Dagster's own rules for a check being current
(``AssetCheckExecutionRecord.targets_latest_materialization``), read synchronously here. It is
stricter on one point: a failed blocking check refuses whatever its severity, where Dagster skips
downstream assets only for ERROR (none of the project's blocking checks reports WARN today; a
dbt ``warn_if`` threshold added later would make the publication fail rather than be skipped).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set

import dagster as dg

# Not exported by dagster 1.13; the statuses the instance stores for a check execution.
from dagster._core.storage.asset_check_execution_record import (
    COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES,
    AssetCheckExecutionRecordStatus,
)

SHOWN = 10  # checks named in a refusal's description; the metadata lists them all


def blocking_check_keys(
    definitions: Iterable[dg.AssetsDefinition | dg.AssetChecksDefinition],
) -> frozenset[dg.AssetCheckKey]:
    """The keys of the blocking checks these assets and asset checks define."""
    return frozenset(spec.key for d in definitions for spec in d.check_specs if spec.blocking)


def _latest_materializations(
    instance: dg.DagsterInstance, asset_keys: Sequence[dg.AssetKey]
) -> dict[dg.AssetKey, dg.EventLogRecord | None]:
    return {
        r.asset_entry.asset_key: r.asset_entry.last_materialization_record
        for r in instance.get_asset_records(list(asset_keys))
    }


def _latest_completed(instance: dg.DagsterInstance, key: dg.AssetCheckKey):
    done = instance.event_log_storage.get_asset_check_execution_history(
        key, limit=1, status=set(COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES)
    )
    return done[0] if done else None


def _not_run(
    instance: dg.DagsterInstance, record, latest: dg.EventLogRecord | None
) -> tuple[str | None, object]:
    """For a check planned but not evaluated: (why it refuses, None) or (None, the previous
    completed execution, which stays in force when the run that planned it succeeded, or when
    that run is still to come and has not rebuilt the asset).

    Dagster records a run's checks as planned when the run is *submitted*: a run queued behind
    the one publishing (a sensor seeing new files, a backfill's next partition) has planned
    every check before doing anything. Its plans concern data it has yet to build, not the
    asset's latest materialization, which the previous evaluation vouches for or not
    (:func:`_is_current`); only a run that rebuilt the asset and has not checked it yet
    refuses."""
    run = instance.get_run_by_id(record.run_id)
    if run is not None and not run.is_finished:
        if latest is not None and latest.event_log_entry.run_id == record.run_id:
            return f"en cours d'exécution (run {record.run_id})", None
        return None, _latest_completed(instance, record.key)
    if run is not None and run.status != dg.DagsterRunStatus.SUCCESS:
        return f"non exécuté, run {record.run_id} {run.status.value}", None
    return None, _latest_completed(instance, record.key)


def _is_current(record, latest: dg.EventLogRecord | None) -> bool:
    """The evaluation targets the asset's latest materialization (Dagster's own rule)."""
    if latest is None or latest.event_log_entry.run_id == record.run_id:
        return True
    target = record.evaluation.target_materialization_data
    if target is not None:
        return target.storage_id == latest.storage_id
    return latest.timestamp < record.create_timestamp


def why_unverified(instance: dg.DagsterInstance, record, latest: dg.EventLogRecord | None):
    """Why this check's latest execution does not vouch for the asset's current data, or None."""
    if record is not None and record.status == AssetCheckExecutionRecordStatus.PLANNED:
        why, record = _not_run(instance, record, latest)
        if why:
            return why
    if record is None:
        return "jamais évalué"
    evaluation = record.evaluation
    if record.status != AssetCheckExecutionRecordStatus.SUCCEEDED or not evaluation.passed:
        detail = (evaluation.description or "").strip().splitlines()[:1]
        return f"en échec (run {record.run_id})" + (f" : {detail[0][:200]}" if detail else "")
    if not _is_current(record, latest):
        return (
            f"évalué sur une matérialisation antérieure (run {record.run_id}), pas sur la "
            f"dernière (run {latest.event_log_entry.run_id or 'hors run'})"
        )
    return None


def unverified_checks(
    instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey]
) -> list[str]:
    """One line per blocking check that does not vouch for its asset's latest data, the failed
    ones first (a refusal names the first :data:`SHOWN`: the check that failed must not hide
    behind the checks its failure stopped), then by asset and check."""
    keys = sorted(check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    latest = _latest_materializations(instance, list({k.asset_key: None for k in keys}))
    lines = []
    for key in keys:
        why = why_unverified(instance, records.get(key), latest.get(key.asset_key))
        if why:
            lines.append((not why.startswith("en échec"),
                          f"{key.asset_key.to_user_string()}:{key.name} {why}"))
    return [line for _, line in sorted(lines, key=lambda x: x[0])]


def upstream_lineage(
    deps: Mapping[dg.AssetKey, Set[dg.AssetKey]], targets: Iterable[dg.AssetKey]
) -> dict[dg.AssetKey, frozenset[dg.AssetKey]]:
    """The part of ``deps`` (asset → its upstream assets) that ``targets`` depend on."""
    out: dict[dg.AssetKey, frozenset[dg.AssetKey]] = {}
    todo = [k for k in targets if k in deps]
    while todo:
        key = todo.pop()
        if key not in out:
            out[key] = frozenset(deps[key])
            todo += [p for p in deps[key] if p in deps]
    return out


def stale_assets(
    instance: dg.DagsterInstance, lineage: Mapping[dg.AssetKey, Set[dg.AssetKey]]
) -> list[tuple[dg.AssetKey, str]]:
    """(asset, line) per upstream asset whose latest materialization is newer than the asset's
    (``lineage``: asset → upstream assets): it was not rebuilt from that upstream's current data.

    Only the first stale layer is named (a staging model behind a new load, not every model
    after it): that is where a rebuild (``dbt build``, the nightly job) starts. Event-log storage
    ids order the materializations (a dbt build records a model after its parents)."""
    keys = set(lineage) | {p for ps in lineage.values() for p in ps}
    latest = _latest_materializations(instance, sorted(keys, key=lambda k: k.to_user_string()))
    lines = []
    for child in sorted(lineage, key=lambda k: k.to_user_string()):
        mine = latest.get(child)
        for parent in sorted(lineage[child], key=lambda k: k.to_user_string()):
            theirs = latest.get(parent)
            if theirs is None or (mine is not None and mine.storage_id > theirs.storage_id):
                continue
            built = (
                f"construit (run {mine.event_log_entry.run_id or 'hors run'})"
                if mine is not None else "jamais construit"
            )
            lines.append((child,
                f"{child.to_user_string()} {built} avant la dernière matérialisation de "
                f"{parent.to_user_string()} (run {theirs.event_log_entry.run_id or 'hors run'}) : "
                "à reconstruire (dbt build ou le job bilan_nightly)"
            ))
    return lines
