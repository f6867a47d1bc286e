"""Ingestion asset: every workbook and finance export of the selected exercises → raw tables.

One multi-asset because one pass over the folder produces all six raw tables together (and must
commit them together). Partitioned by exercise with a single-run backfill policy, so the nightly
run covers every exercise in one step while a data engineer can re-run just one.
"""


import dagster as dg

from dagster_project import state
from dagster_project.assets.retries import retried_if_transient
from dagster_project.ingestion.discovery import discover_exercices, stray_entries
from dagster_project.ingestion.loader import (
    IngestSummary,
    PhaseClock,
    default_workers,
    ingest_exercice,
    rows_phrase,
)
from dagster_project.ingestion.warehouse import init_raw_schema
from dagster_project.partitions import EXERCICE_PARTITIONS
from dagster_project.resources import WarehouseResource

RAW_TABLES = {
    "raw_actions": "One row per accepted operator workbook (its Action sheet), with lineage.",
    "raw_participants": "One row per accepted Participants row (personal data: internal only).",
    "raw_cer": "One row per accepted CER row of référent-unique actions (internal only).",
    "raw_mandats": "One row per accepted payment mandate of the finance export.",
    "manifest": "Load manifest: one row per file seen, with status and row conservation counts.",
    "rejets": "Every refused file or row: file, sheet, row, column, value (no identifier), reason.",
}
RAW_KEYS = {name: dg.AssetKey(["raw", name]) for name in RAW_TABLES}


REFUSED_LISTED = 100  # refused files named in the metadata; raw.manifest has them all


def summaries_metadata(summaries: list[IngestSummary]) -> dict[str, dg.MetadataValue]:
    total = {
        k: sum(getattr(s, k) for s in summaries)
        for k in (
            "files_loaded", "files_rejected", "files_ignored", "files_replaced", "files_removed",
            "files_parsed", "files_unchanged", "rows_read", "rows_loaded", "rows_rejected",
            "rows_replaced",
        )
    }
    md: dict[str, dg.MetadataValue] = {k: dg.MetadataValue.int(v) for k, v in total.items()}
    md["exercices"] = dg.MetadataValue.text(", ".join(str(s.exercice) for s in summaries))
    md["inputs_sha256"] = dg.MetadataValue.json(
        {str(s.exercice): s.input_sha256 for s in summaries}
    )
    md["par_exercice"] = dg.MetadataValue.json(
        {str(s.exercice): {k: v for k, v in s.as_metadata().items() if k != "exercice"}
         for s in summaries}
    )
    # where the load's time went, phase by phase, in order (see loader.PhaseClock); a table,
    # because the JSON metadata is shown with its keys sorted
    timings: dict[str, float] = {}
    for s in summaries:
        for phase, sec in s.timings_s.items():
            timings[phase] = timings.get(phase, 0.0) + sec
    md["timings"] = dg.MetadataValue.md(
        "| phase | s |\n|---|---:|\n"
        + "".join(f"| {p} | {timings[p]:.3f} |\n" for p in PhaseClock.PHASES if p in timings)
    )
    reasons = [r for s in summaries for r in s.first_reasons][:10]
    if reasons:
        md["first_rejections"] = dg.MetadataValue.md("\n".join(f"- {r}" for r in reasons))
    refused = [r for s in summaries for r in s.refused_files]
    if refused:  # every refused file, named (the first rejections may all be one file's rows)
        md["fichiers_refuses"] = dg.MetadataValue.md(
            "\n".join(f"- {r}" for r in refused[:REFUSED_LISTED])
            + (f"\n- … et {len(refused) - REFUSED_LISTED} autre(s) (raw.manifest)"
               if len(refused) > REFUSED_LISTED else "")
        )
    return md


def unchanged_since_publication(
    instance: dg.DagsterInstance, raw_dir, warehouse_dir, exercices: list[int]
) -> state.Verdict | None:
    """The state check's verdict when nothing changed since the last publication and the run
    that published it succeeded (a step after the publication, e.g. a report, may have failed
    it; a run unknown to this instance, another DAGSTER_HOME, counts as succeeded: ``bilan run``
    forgets the state itself when its run fails): a run would have nothing to do. None
    otherwise. The ingestion asset skips on it, and the nightly schedule launches no run."""
    verdict = state.check_unchanged(raw_dir, warehouse_dir, exercices)
    if not verdict.unchanged:
        return None
    run = instance.get_run_by_id(verdict.run_id) if verdict.run_id else None
    return verdict if run is None or run.status == dg.DagsterRunStatus.SUCCESS else None


def orphans(context: dg.AssetExecutionContext, con, present: set[int]) -> list[int]:
    """Exercises the warehouse holds whose folder is gone and that no partition names any more.

    A removed folder's rows are removed by the next run covering its partition (README); if the
    partition was deleted first, no run can cover it again and its rows would be published by
    every run, with no word. They are removed by whichever run comes next."""
    init_raw_schema(con)  # a fresh warehouse: no table yet
    held = {r[0] for r in con.execute("SELECT DISTINCT exercice FROM raw.manifest").fetchall()}
    known = {
        int(k) for k in context.instance.get_dynamic_partitions(EXERCICE_PARTITIONS.name)
        if k.isdigit()
    }
    return sorted(held - present - known - {int(k) for k in context.partition_keys})


def _ingest(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> tuple[list[IngestSummary], dict[str, dict[int, int]], dict[int, int]] | None:
    """The load of the run's exercises under the writer lock: their summaries, each raw table's
    rows per exercise, and the orphan exercises emptied (files removed); None when nothing
    changed."""
    exercices = sorted(int(k) for k in context.partition_keys)
    summaries = []
    removed: dict[int, int] = {}  # orphan exercise emptied -> its files removed (not a partition)
    with warehouse.writer(holder=f"dagster run {context.run.run_id}") as con:
        forced = context.run.tags.get(state.FORCE_TAG) == "1"
        verdict = None if forced else unchanged_since_publication(
            context.instance, warehouse.raw_path(), warehouse.dir_path(), exercices)
        if verdict is not None:
            context.log.info(
                f"rien n'a changé depuis la publication du run {verdict.run_id} "
                f"({verdict.published_at}, empreinte {verdict.digest[:12]}) : ingestion, dbt, "
                "contrôles et publication sautés"
            )
            for line in verdict.warnings or ():  # still true: their data has not changed
                context.log.warning(f"avertissement de cette publication, toujours valable : "
                                    f"{line.strip()}")
            return None
        state.invalidate(warehouse.dir_path())  # a run that fails from here never looks published
        # and a load that dies half-way (exercises commit one by one) is on record as such:
        # no publication, no re-execution vouches for what it left (state.begin_load)
        state.begin_load(con, context.run.run_id, exercices)
        stray = stray_entries(warehouse.raw_path())
        if stray:
            context.log.warning(
                f"ignoré(s) sous {warehouse.raw_path()}, pas des dossiers d'exercice (AAAA/) : "
                + ", ".join(stray)
            )
        present = set(discover_exercices(warehouse.raw_path()))
        for exercice in orphans(context, con, present):
            context.log.warning(
                f"exercice {exercice} : ni dossier sous {warehouse.raw_path()} ni partition "
                "Dagster, mais encore dans l'entrepôt : ses lignes sont retirées (elles auraient "
                "été publiées à chaque run, aucun run ne pouvant plus le couvrir)"
            )
            emptied = ingest_exercice(
                con, warehouse.raw_path(), exercice, run_id=context.run.run_id,
                workers=default_workers(), log=context.log.info,
            )
            removed[exercice] = emptied.files_removed
        for exercice in exercices:
            summaries.append(
                ingest_exercice(
                    con, warehouse.raw_path(), exercice, run_id=context.run.run_id,
                    workers=default_workers(), log=context.log.info,
                )
            )
        # rows each table holds per exercise of this run (the materialized partitions)
        in_list = ", ".join(str(e) for e in exercices) or "NULL"
        row_counts = {
            name: dict(con.execute(
                f"SELECT exercice, count(*) FROM raw.{name} WHERE exercice IN ({in_list}) "
                "GROUP BY exercice"
            ).fetchall())
            for name in RAW_TABLES
        }
        # what was loaded, for the publication to record: only when every exercise folder was
        # loaded and the warehouse holds no other exercise. A partition whose folder was removed
        # is emptied by a run that covers it, then is in no digest (the state check reads the
        # folders): it does not make every later run a rebuild; until then (e.g. one exercise
        # re-run alone), no digest, so the next full run empties it.
        held = {r[0] for r in con.execute("SELECT DISTINCT exercice FROM raw.manifest").fetchall()}
        code = state.code_digest()
        digest = (
            state.state_digest(
                {s.exercice: s.input_sha256 for s in summaries if s.exercice in present}, code
            )
            if present <= set(exercices) and held <= present else None
        )
        state.store_pending(con, context.run.run_id, digest, exercices, code)
    return summaries, row_counts, removed


def _per_exercice(
    context: dg.AssetExecutionContext, summaries: list[IngestSummary],
    row_counts: dict[str, dict[int, int]],
):
    """One observation per raw table and exercise, with that exercise's own figures.

    Dagster gives a run's materialization metadata to every partition it covers (no metadata per
    partition of a range, dagster-io/dagster#18123): the figures shown for partition 2016 of a
    nightly run were the totals of every exercise. Its own are in these observations."""
    for s in summaries:
        own = summaries_metadata([s])
        for name, key in RAW_KEYS.items():
            yield dg.AssetObservation(
                asset_key=key, partition=str(s.exercice),
                metadata={**own, "dagster/row_count": dg.MetadataValue.int(
                    int(row_counts[name].get(s.exercice, 0)))},
            )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key, description=RAW_TABLES[name], group_name="ingestion",
            partitions_def=EXERCICE_PARTITIONS, kinds={"python", "duckdb"},
            # not materialized when nothing changed since the last publication: dbt, the checks
            # and the publication downstream are then skipped (see dagster_project/state.py)
            skippable=True,
        )
        for name, key in RAW_KEYS.items()
    ],
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="warehouse_writer",
    can_subset=False,
)
def raw_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Parse new and changed files of each selected exercise and load them, conserving rows."""
    with retried_if_transient(context):  # a warehouse held by another writer: retried
        loaded = _ingest(context, warehouse)
    if loaded is None:  # nothing changed since the last publication
        return
    summaries, row_counts, removed = loaded
    context.log.info(
        "; ".join(
            f"{s.exercice}: {s.files_loaded} chargé(s), {s.files_rejected} refusé(s), "
            f"{s.files_ignored} ignoré(s), {s.files_replaced} remplacé(s), "
            f"{s.rows_loaded} lignes chargées / {rows_phrase(s)}"
            for s in summaries
        )
    )
    metadata = summaries_metadata(summaries)
    if removed:  # not in the totals: they are this run's partitions' (an orphan is none)
        metadata["exercices_retires"] = dg.MetadataValue.text(", ".join(
            f"{ex} ({n} fichier(s) retiré(s) : ni dossier ni partition)"
            for ex, n in sorted(removed.items())))
    several = len(context.partition_keys) > 1
    if several:
        metadata["portee"] = dg.MetadataValue.text(
            f"totaux des exercices {', '.join(sorted(context.partition_keys))} de ce run, "
            "donnés par Dagster à chacune de ses partitions ; les chiffres d'un exercice : "
            "par_exercice, et l'observation de sa partition (même run)"
        )
    for name, key in RAW_KEYS.items():
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={**metadata, "dagster/row_count": dg.MetadataValue.int(
                int(sum(row_counts[name].values())))},
        )
    if several:
        yield from _per_exercice(context, summaries, row_counts)
