"""One partition per exercise folder found under the raw dir (discovered, never hard-coded)."""

import dagster as dg

EXERCICE_PARTITIONS = dg.DynamicPartitionsDefinition(name="exercice")


def all_partitions_tags(instance: dg.DagsterInstance) -> dict[str, str]:
    """Tags asking one run to cover every known exercise (ingestion has a single-run policy).

    A dynamic partition range follows the order partitions were added, so the range runs from
    the first to the last key in the instance's order, not in numeric order.
    """
    keys = instance.get_dynamic_partitions(EXERCICE_PARTITIONS.name)
    return {
        "dagster/asset_partition_range_start": keys[0],
        "dagster/asset_partition_range_end": keys[-1],
    }


def sync_partitions(instance: dg.DagsterInstance, exercices: list[int]) -> list[str]:
    """Add a partition for every exercise folder not yet known; return the new keys."""
    known = set(instance.get_dynamic_partitions(EXERCICE_PARTITIONS.name))
    new = [str(e) for e in sorted(exercices) if str(e) not in known]
    if new:
        instance.add_dynamic_partitions(EXERCICE_PARTITIONS.name, new)
    return new
