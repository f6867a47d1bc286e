"""One partition per exercise folder found under the raw dir (discovered, never hard-coded).

The partitions are dynamic: ``bilan run``, the nightly schedule and the drop sensor register every
``<BILAN_RAW_DIR>/<AAAA>/`` folder they find. The ingestion asset is partitioned by exercise with a
single-run backfill policy; everything downstream (dbt, checks, publication) is unpartitioned and
rebuilt from all the raw tables. So:

* the nightly run covers every exercise in one run (partition-range tags, see ``range_tags``);
* a data engineer re-runs one exercise by launching ``bilan_nightly`` for one partition key
  (UI: Launchpad → partition; Python: ``execute_in_process(partition_key="2019")``): only that
  exercise is re-ingested, dbt and the publication rebuild everything downstream.
"""

from collections.abc import Sequence

import dagster as dg

EXERCICE_PARTITIONS = dg.DynamicPartitionsDefinition(name="exercice")

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(keys: Sequence[str]) -> dict[str, str]:
    """Tags asking one run to cover ``keys`` (in the instance's order, first to last).

    A dynamic partition range follows the order partitions were added, not numeric order, so the
    range runs from the first to the last key as the instance lists them.
    """
    if not keys:
        raise ValueError("no exercise partition: nothing to run")
    return {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}


def range_keys(instance: dg.DagsterInstance, tags: dict) -> list[str] | None:
    """The exercises a run's range tags stand for, sorted (the inverse of :func:`range_tags`);
    None when a bound is no longer a partition or the bounds are reversed."""
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    keys = instance.get_dynamic_partitions(EXERCICE_PARTITIONS.name)
    if start not in keys or end not in keys or keys.index(start) > keys.index(end):
        return None
    return sorted(keys[keys.index(start): keys.index(end) + 1])


def all_partitions_tags(instance: dg.DagsterInstance) -> dict[str, str]:
    """Tags asking one run to cover every known exercise (ingestion has a single-run policy)."""
    return range_tags(instance.get_dynamic_partitions(EXERCICE_PARTITIONS.name))


def sync_partitions(instance: dg.DagsterInstance, exercices: list[int]) -> list[str]:
    """Add a partition for every exercise folder not yet known; return the new keys."""
    known = set(instance.get_dynamic_partitions(EXERCICE_PARTITIONS.name))
    new = [str(e) for e in sorted(exercices) if str(e) not in known]
    if new:
        instance.add_dynamic_partitions(EXERCICE_PARTITIONS.name, new)
    return new
