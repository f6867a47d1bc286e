"""``bilan run``: the nightly job from a shell (``make run``), on the real Dagster instance.

It discovers the exercise folders, registers their partitions, holds the warehouse writer lock for
the whole run (a second ``make run`` waits a bounded time, then fails naming the holder), executes
``bilan_nightly`` in process on $DAGSTER_HOME (so the run shows in ``make dev``), then prints what
was loaded and refused, which check failed with observed vs expected, and the published synthesis.
Exit status 0 only when the run succeeded. A failed run says whether marts.duckdb was replaced:
"nothing published" only when ``analystes/marts_publies`` did not materialize in that run (read
from the run's events); otherwise the marts were published and what failed came after (reports).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
from decimal import Decimal
from pathlib import Path

from dagster_project import settings
from dagster_project.run_tags import (
    TAG_HOST,
    TAG_LAUNCHER,
    TAG_PID,
    TAG_WAREHOUSE,
    launched_by_cli,
    reexecution_tags,
)


def _instance():
    """The persistent instance of ``settings.dagster_home()`` (created from the committed
    template when new, as ``make run`` does): the run shows in the UI and can be re-executed.
    Its event log keeps its connections open (event_log.py): the run writes most events."""
    from dagster_project.event_log import instance_with_kept_connections

    home = settings.dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        template = settings.PROJECT_ROOT / "dagster_home.template.yaml"
        cfg.write_text(template.read_text())
    return instance_with_kept_connections(str(home))


UNFINISHED = ("NOT_STARTED", "STARTING", "STARTED")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_runs(instance, warehouse: Path) -> list[str]:
    """Close the runs of a ``bilan run`` that was killed (SIGKILL, OOM, power cut).

    Such a run stays STARTED in the instance: the queue (one run at a time) counts it as in
    progress, and an instance whose pools are enforced per step (the template's before) keeps the
    ``warehouse_writer`` slot its step held, so later runs would wait for it until run monitoring
    fails it, hours later. A CLI run holds the writer lock for
    its whole life, so one of ours on this warehouse that is unfinished while we hold the lock is
    dead; on another warehouse, it is dead if its process is gone from this host. Call under the
    writer lock. Returns the run ids closed.
    """
    import dagster as dg

    runs = instance.get_runs(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus[s] for s in UNFINISHED], tags={TAG_LAUNCHER: "cli"},
    ))
    reaped = []
    for run in runs:
        if not launched_by_cli(run):
            continue  # a re-execution from the UI, tagged as its parent: the daemon runs it
        same_warehouse = run.tags.get(TAG_WAREHOUSE) == str(warehouse)
        pid = run.tags.get(TAG_PID, "")
        gone = (
            run.tags.get(TAG_HOST) == socket.gethostname() and pid.isdigit()
            and not _pid_alive(int(pid))
        )
        if not (same_warehouse or gone):
            continue
        instance.report_run_failed(
            run, message=f"bilan run (pid {pid or '?'}) interrompu sans finir : run clos par "
            f"le run suivant (la file des runs ne l'attend plus)",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped


STATUTS = {"loaded": "chargés", "rejected": "refusés", "ignored": "ignorés",
           "replaced": "remplacés"}
LISTED = 10  # files named per list below; the rest are counted (raw.manifest has them all)


def _named(lines: list[str], title: str, rows: list[tuple], table: str = "raw.manifest") -> None:
    """``title`` then one line per (file, detail), the first :data:`LISTED` of them; the file
    as its path under the raw dir (``2017/operateurs/x.xlsx``: two files may share a name)."""
    if not rows:
        return
    lines.append(title)
    lines += [f"    {path}" + (f" : {detail}" if detail else "") for path, detail in rows[:LISTED]]
    if len(rows) > LISTED:
        lines.append(f"    … et {len(rows) - LISTED} autre(s) ({table})")


def load_summary(con, run_id: str | None = None) -> list[str]:
    """What the warehouse holds, per exercise and fate; the files refused (with their reason),
    ignored or replaced (a report in the wrong place or format is named, not only counted); the
    files this run found removed from the folder (gone from raw.manifest, on record in
    raw.manifest_history); the first refusals."""
    lines = []
    files = {"loaded": 0, "rejected": 0, "ignored": 0, "replaced": 0}
    rows_loaded = rows_rejected = rows_replaced = 0
    for ex, status, n, rr, rl, rj in con.execute(
        "SELECT exercice, status, count(*), sum(rows_read), sum(rows_loaded), sum(rows_rejected) "
        "FROM raw.manifest GROUP BY ALL ORDER BY 1, 2"
    ).fetchall():
        # a replaced workbook's rows are not loaded, but not refused either: a newer workbook
        # for the same convention counts instead
        not_loaded = "écartées" if status == "replaced" else "refusées"
        lines.append(f"  {ex} {STATUTS.get(status, status):<9} {n:>5} fichier(s)  lignes lues "
                     f"{rr:>8}  chargées {rl:>8}  {not_loaded} {rj:>6}")
        files[status] = files.get(status, 0) + n
        rows_loaded += rl or 0
        if status == "replaced":
            rows_replaced += rj or 0
        else:
            rows_rejected += rj or 0
    lines.append(
        f"  total : fichiers {files['loaded']} chargé(s), {files['rejected']} refusé(s), "
        f"{files['ignored']} ignoré(s), {files['replaced']} remplacé(s) ; "
        f"lignes {rows_loaded} chargée(s), {rows_rejected} refusée(s)"
        + (f", {rows_replaced} écartée(s) (classeurs remplacés)" if rows_replaced else "")
    )
    if run_id is not None:
        # the lines above are the warehouse's state, most of it loaded by earlier runs when
        # little changed (a forced run re-reads nothing): said, so "221 chargés" beside the
        # load's own "0 fichier(s) lu(s)" reads right (cold review)
        [(this_run, total)] = con.execute(
            "SELECT count(*) FILTER (WHERE run_id = ?), count(*) FROM raw.manifest", [run_id]
        ).fetchall()
        lines.append(f"  (état de l'entrepôt : {this_run} fichier(s) sur {total} lu(s) ou "
                     "reclassé(s) par ce run, les autres inchangés depuis un run précédent)")
    for status, title in (("rejected", "refusé(s), avec la raison"),
                          ("ignored", "ignoré(s), pas lus comme rapports"),
                          ("replaced", "remplacé(s) par un classeur plus récent")):
        rows = con.execute(
            "SELECT source_file, detail FROM raw.manifest WHERE status = ? ORDER BY ALL",
            [status]
        ).fetchall()
        _named(lines, f"  {title} : {len(rows)} fichier(s) :", rows)
    removed = con.execute(
        "SELECT source_file, NULL FROM raw.manifest_history WHERE status = 'removed' "
        "AND run_id = ? ORDER BY ALL", [run_id]
    ).fetchall() if run_id else []
    gone = con.execute(
        "SELECT exercice, count(*) FROM raw.manifest_history WHERE status = 'removed' "
        "AND run_id = ? AND exercice NOT IN (SELECT exercice FROM raw.manifest) "
        "GROUP BY ALL ORDER BY ALL", [run_id]
    ).fetchall() if run_id else []
    lines += [f"  exercice {ex} retiré de l'entrepôt : plus de dossier {ex}/ ({n} fichier(s) "
              "retiré(s)), il n'est plus publié" for ex, n in gone]
    _named(lines, f"  retiré(s) du dossier depuis le chargement précédent : {len(removed)} "
                  "fichier(s) (leurs lignes éventuelles ne sont plus chargées) :", removed,
           "raw.manifest_history")
    from dagster_project.ingestion.loader import first_refusals

    reasons = first_refusals(con, 10)
    if reasons:
        total = con.execute("SELECT count(*) FROM raw.rejets").fetchone()[0]
        lines.append(f"  premiers refus ({len(reasons)} sur {total} ; tous : raw.rejets) :"
                     if total > len(reasons) else "  refus :")
        lines += [f"    {f} [{s}, {r}, {c}] {why}" for f, s, r, c, why in reasons]
    return lines


# columns of a failed dbt test's rows that say where it fails; never an identifier
WHERE_COLUMNS = ("source_file", "source_sheet", "source_row", "num_convention", "num_mandat",
                 "perimetre", "indicateur", "code_thematique")
AUDIT_SCHEMA = "dbt_test__audit"  # failing/warning tests: dbt/macros/materializations/test.sql


def failures_relations(asset_graph, keys) -> dict[str, str]:
    """dbt test check name → the view holding its failing rows. dbt names it after the test's
    alias, which is the name cut and hashed when long (column_gte_column_stg_operateu_da6a…):
    read from the manifest, through the check's ``dagster_dbt/unique_id``."""
    from dagster_project.assets.dbt import DBT_PROJECT

    uids = {}
    for key in keys:
        if key in asset_graph.asset_check_keys:
            uid = asset_graph.get_check_spec(key).metadata.get("dagster_dbt/unique_id")
            if uid:
                uids[key.name] = uid
    if not uids:
        return {}
    try:
        nodes = json.loads(Path(DBT_PROJECT.manifest_path).read_text(encoding="utf-8"))["nodes"]
    except (OSError, ValueError, KeyError):  # no manifest: the checks are still listed
        return {}
    return {name: nodes[uid]["alias"] for name, uid in uids.items() if uid in nodes}


def failed_dbt_tests(result) -> dict[str, str]:
    """The dbt tests that failed in the run: check name → view of its failing rows."""
    import dagster as dg

    keys = []
    for ev in result.all_events:
        if ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = getattr(ev.event_specific_data, "evaluation", ev.event_specific_data)
            if not data.passed:
                keys.append(dg.AssetCheckKey(data.asset_key, data.check_name))
    return failures_relations(result.job_def.asset_layer.asset_graph, keys) if keys else {}


def failing_rows(con, relations: dict[str, str], limit: int = 3) -> dict[str, list[str]]:
    """Where each failed dbt test fails: its first rows (the view dbt stores them in), shown by
    their lineage columns (:data:`WHERE_COLUMNS`) only. Tests whose rows carry none (an
    aggregate, a count) are left out: their check already says observed vs expected. A view
    that cannot be read leaves its test out (it must not hide the rest of the summary)."""
    import duckdb

    out: dict[str, list[str]] = {}
    for name, view in relations.items():
        try:
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ? ORDER BY ordinal_position", [AUDIT_SCHEMA, view]).fetchall()]
            shown = [c for c in WHERE_COLUMNS if c in cols]
            if not shown:
                continue
            rows = con.execute(
                f'SELECT DISTINCT {", ".join(shown)} FROM {AUDIT_SCHEMA}."{view}" '
                f"ORDER BY ALL LIMIT {int(limit)}"
            ).fetchall()
        except duckdb.Error:
            continue
        out[name] = [", ".join(f"{c} {v}" for c, v in zip(shown, r, strict=True) if v is not None)
                     for r in rows]
    return out


def failed_controls(con) -> list[str]:
    from dagster_project.publication import control_line, failed_control_rows

    try:
        rows = failed_control_rows(con)
    except Exception:  # the marts were never built: the failed step says why
        return []
    return [f"  {control_line(r)}" for r in rows]


def check_failures(
    result, *, metadata: bool = True, where: dict[str, list[str]] | None = None
) -> list[str]:
    """The run's failed checks and failed steps, one line each: failed ERROR checks (with their
    metadata when ``metadata``), then failed steps, then failed warnings (description alone: a
    warning may stand for weeks and must not hide what failed the run). ``where``: the first
    failing rows of a check (:func:`failing_rows`), each on its own line below it."""
    from dagster_project.sensors.alerts import (
        check_description,
        failed_check_line,
        observed,
        step_error,
        step_error_text,
    )

    asset_graph = result.job_def.asset_layer.asset_graph
    errors, steps, warnings = [], [], []
    for ev in result.all_events:
        if ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = ev.event_specific_data
            ev_ = getattr(data, "evaluation", data)
            if not ev_.passed:
                error = ev_.severity.value == "ERROR"
                md = {k: getattr(v, "value", v) for k, v in (ev_.metadata or {}).items()}
                # observed vs expected as the alert says it; the raw metadata (durations,
                # invocation ids) only for a failed ERROR check that follows none of the known
                # conventions; a warning: its observed vs expected at most, in brackets
                known = observed(md)
                if not error:
                    shown = f"({known})" if known else ""
                elif metadata:
                    shown = known or str({k: v for k, v in md.items() if k != "data_docs"} or "")
                else:
                    shown = ""
                (errors if error else warnings).append(
                    failed_check_line(f"{ev_.asset_key.to_user_string()}:{ev_.check_name}",
                                      ev_.severity.value, check_description(ev_, asset_graph),
                                      shown)
                    + "".join(f"\n      ex. {r}" for r in (where or {}).get(ev_.check_name, []))
                )
        elif ev.event_type_value == "STEP_FAILURE":
            err = step_error(ev.event_specific_data.error)
            if err and "DagsterAssetCheckFailedError" in (err.cls_name or ""):
                continue  # already reported through the check evaluation above
            steps.append(f"  étape {ev.step_key} en échec : {step_error_text(err, lines=3)}")
    return errors + steps + warnings


def marts_published(result) -> bool:
    """Did ``analystes/marts_publies`` materialize in this run (so marts.duckdb was replaced)?"""
    return any(
        ev.asset_key is not None and ev.asset_key.path == ["analystes", "marts_publies"]
        for ev in result.get_asset_materialization_events()
    )


def failure_headline(published: bool, marts: Path) -> str:
    """The first line of a failed run's summary: whether the analysts' file changed."""
    if published:
        return (
            f"\nÉCHEC après publication : les marts de ce run ont été publiés ({marts}, "
            "tous les contrôles bloquants passés), puis une étape suivante a échoué :"
        )
    return "\nÉCHEC : rien n'a été publié (marts.duckdb inchangé)."


def print_synthese(marts: Path) -> None:
    import duckdb

    con = duckdb.connect(str(marts), read_only=True)
    try:
        rows = con.execute(
            "SELECT exercice, code_thematique, nb_actions, montant_paye_eur, accompagnements, "
            "fins_accompagnement, insertions_durables, mises_en_parcours, sorties_emploi_formation "
            "FROM synthese_thematiques ORDER BY exercice, code_type_action, code_thematique"
        ).fetchall()
    finally:
        con.close()
    head = ("exercice", "thématique", "actions", "montant payé €", "accomp.", "fins", "ins. dur.",
            "mises parc.", "sorties EF")
    fmt = "{:<8} {:<14} {:>7} {:>16} {:>8} {:>7} {:>9} {:>11} {:>10}"
    print(fmt.format(*head))

    def f(v):
        if v is None:
            return ""
        text = f"{v:,.2f}" if isinstance(v, Decimal) else f"{v:,}"
        return text.replace(",", "\u202f").replace(".", ",")

    for r in rows:
        print(fmt.format(r[0], r[1], *(f(v) for v in r[2:])))


def _unchanged_since_publication(raw: Path, wh: Path, exercices: list[int], lock) -> bool:
    """Nothing changed since the last successful publication (raw files, dbt project, code,
    library versions: see dagster_project/state.py)? Then say so and stop here, before importing
    Dagster: the published marts.duckdb is already the result of this run. Releases the lock."""
    from dagster_project.state import check_unchanged

    verdict = check_unchanged(raw, wh, exercices)
    if not verdict.unchanged:
        return False
    lock.__exit__(None, None, None)
    print(f"bilan: exercices {', '.join(map(str, exercices))} depuis {raw}")
    print(f"bilan: rien n'a changé depuis la publication du run {verdict.run_id} "
          f"({verdict.published_at}) : ingestion, dbt, contrôles et publication sautés "
          "(bilan run --force pour tout refaire).")
    if verdict.warnings is None:
        print("\nAvertissements de cette publication : inconnus (ses contrôles n'ont pas pu "
              "être lus ; bilan run --force les refait)")
    elif verdict.warnings:  # still true: the data they were about has not changed
        print("\nAvertissements de cette publication, toujours valables "
              "(n'empêchent pas la publication) :")
        print("\n".join(verdict.warnings))
    print("\nSynthèse publiée :")
    print_synthese(settings.marts_path())
    print(f"\nPublié : {settings.marts_path()}")
    print_next_steps()
    return True


def cmd_run(args: argparse.Namespace) -> int:
    # a re-execution's result must stay open while the summary reads it (dg.execute_job)
    with contextlib.ExitStack() as stack:
        return _cmd_run(args, stack)


def _reexecutable(instance, run_id: str) -> str | None:
    """Why ``run_id`` cannot be re-executed from failure in this instance, or None."""
    import dagster as dg

    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id} inconnu de l'instance {settings.dagster_home()} (DAGSTER_HOME)"
    if run.job_name != "bilan_nightly":
        return f"run {run_id} : job {run.job_name}, pas bilan_nightly"
    if run.status != dg.DagsterRunStatus.FAILURE:
        return f"run {run_id} {run.status.value}, pas en échec : rien à reprendre"
    return None


def _cmd_run(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:
    settings.export_env()
    import duckdb

    from dagster_project.ingestion.discovery import discover_exercices, stray_entries
    from dagster_project.ingestion.warehouse import WarehouseBusy, connect, writer_lock

    raw, wh = settings.raw_dir(), settings.warehouse_dir()
    if not raw.is_dir():
        print(f"bilan: dossier des fichiers bruts introuvable : {raw} (BILAN_RAW_DIR)",
              file=sys.stderr)
        return 2
    stray = stray_entries(raw)
    if stray:
        print(f"bilan: ignoré(s) sous {raw}, pas des dossiers d'exercice (AAAA/) : "
              + ", ".join(stray), file=sys.stderr)
    exercices = discover_exercices(raw)
    if not exercices:
        print(f"bilan: aucun dossier d'exercice (AAAA/) sous {raw}", file=sys.stderr)
        return 2
    try:
        lock = writer_lock(wh, timeout_s=args.lock_timeout, holder=f"bilan run (pid {os.getpid()})")
        lock.__enter__()
    except WarehouseBusy as exc:
        print(f"bilan: {exc}", file=sys.stderr)
        return 3
    if not (args.force or args.from_failure) and _unchanged_since_publication(
        raw, wh, exercices, lock
    ):
        return 0
    from dagster_project.partitions import all_partitions_tags, sync_partitions
    from dagster_project.publication import sweep_orphans
    from dagster_project.resources import LOCK_HELD_ENV
    from dagster_project.state import FORCE_TAG

    controls: list[str] = []
    refused: list[str] = []  # files refused whole, the likely cause of control totals off
    where: dict[str, list[str]] = {}  # failed dbt tests' first failing rows
    try:
        os.environ[LOCK_HELD_ENV] = str(os.getpid())
        # A run killed mid-publication left a temp file: nobody else can be writing it now.
        for orphan in sweep_orphans(wh):
            print(f"bilan: temporaire d'une publication interrompue supprimé : {orphan.name}")
        instance = _instance()
        stack.callback(instance.dispose)  # after the summary; closes the kept connections
        for run_id in reap_dead_runs(instance, wh):
            print(f"bilan: run Dagster {run_id} interrompu (processus disparu) : clos, "
                  "la file des runs ne l'attend plus")
        # after the reaping: a run whose process was killed is failed, and can be resumed
        why = _reexecutable(instance, args.from_failure) if args.from_failure else None
        if why:
            print(f"bilan: --from-failure : {why}", file=sys.stderr)
            return 2
        sync_partitions(instance, exercices)
        import dagster as dg

        from dagster_project.jobs import cli_nightly_job

        print(f"bilan: exercices {', '.join(map(str, exercices))} depuis {raw}"
              + (f" ; reprise du run {args.from_failure} : ses étapes en échec et les suivantes"
                 if args.from_failure else ""))
        # dbt's own log lines (hundreds) go to a file; Dagster's events stay on stderr.
        log_dir = wh / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / "dernier_run.log"
        ours = {TAG_LAUNCHER: "cli", TAG_PID: str(os.getpid()),
                TAG_HOST: socket.gethostname(), TAG_WAREHOUSE: str(wh)}
        run_config = {"loggers": {"console": {"config": {"log_level": args.log_level}}}}
        with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
            if args.from_failure:  # as Dagster's re-execution from failure (parent's tags kept)
                result = stack.enter_context(dg.execute_job(
                    dg.reconstructable(cli_nightly_job), instance,
                    tags={**reexecution_tags(instance.get_run_by_id(args.from_failure)), **ours},
                    run_config=run_config, raise_on_error=False,
                    reexecution_options=dg.ReexecutionOptions.from_failure(
                        args.from_failure, instance),
                ))
            else:
                result = cli_nightly_job().execute_in_process(
                    instance=instance,
                    tags={
                        **all_partitions_tags(instance), **ours,
                        # the ingestion asset checks the state again: --force must reach it too
                        **({FORCE_TAG: "1"} if args.force else {}),
                    },
                    run_config=run_config,
                    raise_on_error=False,
                )
        if not result.success:  # e.g. a step after the publication failed: never skip next time
            from dagster_project.state import invalidate

            invalidate(wh)
        print(f"bilan: run Dagster {result.run_id} (journal dbt : {log_path})")
        con, exists = None, settings.warehouse_path().exists()
        try:  # the warehouse held read-write by another process: no summary, same verdict
            con = connect(settings.warehouse_path(), read_only=True) if exists else None
        except duckdb.Error as exc:
            print(f"\nChargement : résumé indisponible : {exc}")
        if con is not None:
            try:
                print("\nChargement :")
                print("\n".join(load_summary(con, result.run_id)))
                # an earlier run's control totals stay in the warehouse when this one stopped
                # before dbt rebuilt them: shown only if rebuilt, else said not evaluated
                from dagster_project.sensors.alerts import NOT_EVALUATED, controls_rebuilt

                controls = (
                    failed_controls(con) if controls_rebuilt(instance, result.run_id)
                    else [f"  {NOT_EVALUATED}"]
                )
                where = failing_rows(con, failed_dbt_tests(result))
                from dagster_project.checks.refus import REFUSED_SQL

                refused = [r[0] for r in con.execute(REFUSED_SQL).fetchall()]
            except duckdb.Error as exc:  # e.g. ingestion failed before creating raw.manifest
                print(f"  résumé indisponible : {exc}")
            finally:
                con.close()
        elif not exists:  # ingestion failed before creating the warehouse: nothing to summarise
            print(f"\nChargement : aucun entrepôt {settings.warehouse_path()} (ingestion en échec)")
    finally:
        os.environ.pop(LOCK_HELD_ENV, None)
        lock.__exit__(None, None, None)

    published = marts_published(result)
    if result.success:
        # a successful run's failed checks are the non-blocking ones: warnings, e.g. payments
        # refused with a refused workbook, which the published total does not count
        warnings = check_failures(result, metadata=False, where=where)
        if warnings:
            print("\nAvertissements (n'empêchent pas la publication) :")
            print("\n".join(warnings))
    if not result.success:
        print(failure_headline(published, settings.marts_path()), file=sys.stderr)
        lines = check_failures(result, where=where)
        if refused and any(" (ko)" in c for c in controls):
            # one refused workbook puts a dozen figures off: said before them, not after
            lines.append(f"  à vérifier d'abord, écarts ci-dessous : {len(refused)} fichier(s) "
                         f"refusé(s) (voir « Chargement ») : {', '.join(refused[:5])}"
                         + (" …" if len(refused) > 5 else ""))
        for line in lines + controls:
            print(line, file=sys.stderr)
        print(f"  run Dagster : {result.run_id} (DAGSTER_HOME {settings.dagster_home()})",
              file=sys.stderr)
        print("  ensuite : corriger la cause ; données : les fichiers, puis bilan run ; sinon "
              f"(disque, droits, processus tué) : bilan run --from-failure {result.run_id} "
              "; bilan run --force refait tout ; chaque "
              "refus : raw.rejets de " + str(settings.warehouse_path()), file=sys.stderr)
        return 1
    if not published:  # e.g. nothing changed since the last publication: nothing re-published
        print(f"\nRien de nouveau publié : {settings.marts_path()} inchangé.")
        if settings.marts_path().exists():
            print("\nSynthèse publiée (précédemment) :")
            print_synthese(settings.marts_path())
        return 0
    print("\nSynthèse publiée :")
    print_synthese(settings.marts_path())
    print(f"\nPublié : {settings.marts_path()}")
    print_next_steps()
    return 0


def print_next_steps() -> None:
    """Where the deliverables are and how to query the published file (a newcomer's next step,
    asked for by a cold review: the report's paths were only in a Dagster log line)."""
    wh = settings.warehouse_dir()
    print(f"  rapports : {wh / 'rapport'} (bilan_<exercice>.html, .pdf si Chromium est installé, "
          f"synthese_<exercice>.xlsx) ; Parquet : {wh / 'parquet'}")
    cli = Path(sys.executable).with_name("duckdb")  # the environment's DuckDB CLI (dev extra)
    print(f"  SQL : {cli if cli.exists() else 'duckdb'} -readonly {settings.marts_path()} "
          "(tables, vues et exemples : docs/analysts.md)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bilan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the nightly job on $BILAN_RAW_DIR")
    run.add_argument(
        "--lock-timeout", type=float, default=float(os.environ.get("BILAN_LOCK_TIMEOUT", "120")),
        help="seconds to wait for another writer before giving up (default 120)",
    )
    run.add_argument(
        "--force", action="store_true",
        help="run everything even when nothing changed since the last publication",
    )
    run.add_argument(
        "--from-failure", metavar="RUN_ID",
        help="re-execute that failed run from its failed steps, as the UI's Re-execute → From "
        "failure, which cannot re-execute a run of bilan run (after a cause that was not the "
        "data: disk, permissions, a killed process)",
    )
    run.add_argument(
        "--log-level", default=os.environ.get("BILAN_LOG_LEVEL", "INFO"),
        help="Dagster console log level (DEBUG shows every event)",
    )
    args = parser.parse_args(argv)
    return {"run": cmd_run}[args.cmd](args)


def entry() -> None:
    """The ``bilan`` console script (and ``python -m dagster_project.cli``): :func:`main`, then the
    process ends without Python's last full garbage collection (~2 s: process_exit.py). Tests
    call :func:`main` itself, in their own process."""
    from dagster_project.process_exit import skip_final_collection

    sys.stdout = _ReaderMayGo(sys.stdout)
    try:
        code = main()
        sys.stdout.flush()
    finally:
        skip_final_collection()
    sys.exit(code)


class _ReaderMayGo:
    """stdout, whose reader may go before bilan is done (`bilan run | head`): what is printed
    after is dropped, and the run goes on to its end and its own exit status. Python raised
    BrokenPipeError from the next print (a traceback, and the rest of the command skipped) or
    from its flush at exit ("Exception ignored… BrokenPipeError", status 120)."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._reader_gone()

    def _reader_gone(self) -> None:
        self._gone = True
        # what the stream still buffers goes nowhere, Python's own flush at exit included
        os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


if __name__ == "__main__":
    entry()
