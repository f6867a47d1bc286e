"""``bilan run``: the nightly job from a shell (``make run``), on the real Dagster instance.

It discovers the exercise folders, registers their partitions, holds the warehouse writer lock for
the whole run (a second ``make run`` waits a bounded time, then fails naming the holder), executes
``bilan_nightly`` in process on $DAGSTER_HOME (so the run shows in ``make dev``), then prints what
was loaded and refused, which check failed with observed vs expected, and the published synthesis.
Exit status 0 only when the marts were published.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from decimal import Decimal
from pathlib import Path

from dagster_project import settings


def _instance():
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        home = Path(os.environ["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        cfg = home / "dagster.yaml"
        if not cfg.exists():
            template = settings.PROJECT_ROOT / "dagster_home.template.yaml"
            cfg.write_text(template.read_text())
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def load_summary(con) -> list[str]:
    lines = []
    for ex, status, n, rr, rl, rj in con.execute(
        "SELECT exercice, status, count(*), sum(rows_read), sum(rows_loaded), sum(rows_rejected) "
        "FROM raw.manifest GROUP BY ALL ORDER BY 1, 2"
    ).fetchall():
        lines.append(f"  {ex} {status:<9} {n:>5} fichier(s)  lignes lues {rr:>8}  chargées {rl:>8}"
                     f"  refusées {rj:>6}")
    reasons = con.execute(
        "SELECT file_name, coalesce(sheet, '-'), coalesce(CAST(row_number AS VARCHAR), '-'), "
        "coalesce(column_name, '-'), reason FROM raw.rejets "
        "ORDER BY exercice, file_name, row_number NULLS FIRST LIMIT 10"
    ).fetchall()
    if reasons:
        lines.append("  premiers refus :")
        lines += [f"    {f} [{s} ligne {r}, {c}] {why}" for f, s, r, c, why in reasons]
    return lines


def failed_controls(con) -> list[str]:
    try:
        rows = con.execute(
            "SELECT exercice, source, perimetre, indicateur, valeur_publiee, valeur_calculee "
            "FROM marts.fct_controles_publies WHERE statut <> 'ok' ORDER BY 1, 2, 3, 4"
        ).fetchall()
    except Exception:
        return []
    return [
        f"  contrôle {ex} {src}/{per}/{ind}: observé {calc} / attendu {pub}"
        for ex, src, per, ind, pub, calc in rows
    ]


def check_failures(result) -> list[str]:
    out = []
    for ev in result.all_events:
        if ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = ev.event_specific_data
            ev_ = getattr(data, "evaluation", data)
            if not ev_.passed:
                md = {k: getattr(v, "value", v) for k, v in (ev_.metadata or {}).items()}
                shown = {k: v for k, v in md.items() if k not in ("data_docs",)}
                out.append(
                    f"  check {ev_.asset_key.to_user_string()}:{ev_.check_name} "
                    f"({ev_.severity.value}) a échoué : {ev_.description or ''} {shown or ''}"
                )
        elif ev.event_type_value == "STEP_FAILURE":
            err = ev.event_specific_data.error
            if err and "DagsterAssetCheckFailedError" in (err.cls_name or ""):
                continue  # already reported through the check evaluation above
            msg = (err.message or "").strip().splitlines()[:3] if err else []
            out.append(f"  étape {ev.step_key} en échec : {' '.join(msg)}")
    return out


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


def cmd_run(args: argparse.Namespace) -> int:
    settings.export_env()
    from dagster_project.ingestion.discovery import discover_exercices
    from dagster_project.ingestion.warehouse import WarehouseBusy, connect, writer_lock
    from dagster_project.partitions import all_partitions_tags, sync_partitions
    from dagster_project.resources import LOCK_HELD_ENV

    raw, wh = settings.raw_dir(), settings.warehouse_dir()
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
    try:
        os.environ[LOCK_HELD_ENV] = str(os.getpid())
        instance = _instance()
        sync_partitions(instance, exercices)
        from dagster_project.definitions import defs

        job = defs.resolve_job_def("bilan_nightly")
        print(f"bilan: exercices {', '.join(map(str, exercices))} depuis {raw}")
        # dbt's own log lines (hundreds) go to a file; Dagster's events stay on stderr.
        log_dir = wh / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / "dernier_run.log"
        with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
            result = job.execute_in_process(
                instance=instance,
                tags=all_partitions_tags(instance),
                run_config={"loggers": {"console": {"config": {"log_level": args.log_level}}}},
                raise_on_error=False,
            )
        print(f"bilan: run Dagster {result.run_id} (journal dbt : {log_path})")
        con = connect(settings.warehouse_path(), read_only=True)
        try:
            print("\nChargement :")
            print("\n".join(load_summary(con)))
            controls = failed_controls(con)
        finally:
            con.close()
    finally:
        os.environ.pop(LOCK_HELD_ENV, None)
        lock.__exit__(None, None, None)

    if not result.success:
        print("\nÉCHEC : rien n'a été publié (marts.duckdb inchangé).", file=sys.stderr)
        for line in check_failures(result) + controls:
            print(line, file=sys.stderr)
        print(f"  run Dagster : {result.run_id}", file=sys.stderr)
        return 1
    print("\nSynthèse publiée :")
    print_synthese(settings.marts_path())
    print(f"\nPublié : {settings.marts_path()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bilan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the nightly job on $BILAN_RAW_DIR")
    run.add_argument(
        "--lock-timeout", type=float, default=float(os.environ.get("BILAN_LOCK_TIMEOUT", "120")),
        help="seconds to wait for another writer before giving up (default 120)",
    )
    run.add_argument(
        "--log-level", default=os.environ.get("BILAN_LOG_LEVEL", "INFO"),
        help="Dagster console log level (DEBUG shows every event)",
    )
    args = parser.parse_args(argv)
    return {"run": cmd_run}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
