"""The analysts' deliverables, regenerated from the published marts after each publication.

Runs after ``analystes/marts_publies`` (so only when every blocking check passed and the new
marts.duckdb is in place) and writes, under $BILAN_WAREHOUSE_DIR: rapport/bilan_<exercice>.html
(+ .pdf when a headless Chromium is installed), rapport/synthese_<exercice>.xlsx and
parquet/<table>.parquet. The work itself is :func:`dagster_project.reporting.generate`.

``BILAN_RAPPORT_PDF``: unset = PDF when Chromium is found (else a logged warning), ``0`` = never,
``1`` = required (the step fails without Chromium).
"""

import os

import dagster as dg

from dagster_project import state
from dagster_project.assets.publication import MARTS_PUBLIES
from dagster_project.ingestion.warehouse import WarehouseBusy
from dagster_project.reporting import generate
from dagster_project.resources import WarehouseResource

RAPPORT_BILAN = dg.AssetKey(["analystes", "rapport_bilan"])
PDF_ENV = "BILAN_RAPPORT_PDF"


def _famille(check_name: str) -> str:
    if check_name.startswith("gx_"):
        return "Suites Great Expectations"
    if check_name == "manifest_conservation":
        return "Conservation des lignes (manifeste)"
    if check_name == "paiements_comptes":
        return "Paiements comptés (avertissement)"
    if check_name == "fichiers_refuses":
        return "Fichiers refusés (avertissement)"
    if check_name == "feuilles_non_lues":
        return "Feuilles non lues (avertissement)"
    return "Tests dbt"


def run_checks(context: dg.AssetExecutionContext) -> list[dict] | None:
    """The asset-check evaluations of this run (None when they cannot be read). A re-execution
    from failure evaluates only the checks of the steps it re-runs: the others are its
    ancestors', each check's latest evaluation in the lineage (a step retried in a run may
    evaluate a check twice: its latest counts)."""
    try:
        lineage = state.run_lineage(context.run, context.instance.get_run_by_id)
        records = [  # newest first: this run's, latest first, then its parent's…
            rec
            for run_id in lineage
            for rec in context.instance.get_records_for_run(
                run_id=run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                ascending=False,
            ).records
        ]
    except Exception as exc:  # noqa: BLE001 - the report goes on without them
        context.log.warning(f"contrôles du run illisibles : {type(exc).__name__}: {exc}")
        return None
    from dagster_project.sensors.alerts import check_description, observed

    asset_graph = context.job_def.asset_layer.asset_graph
    checks, seen = [], set()
    for rec in records:  # the first seen is the latest
        ev = rec.event_log_entry.dagster_event.event_specific_data
        if (ev.asset_key, ev.check_name) in seen:
            continue
        seen.add((ev.asset_key, ev.check_name))
        md = {k: getattr(v, "value", v) for k, v in (ev.metadata or {}).items()}
        checks.append({
            "asset": ev.asset_key.to_user_string(),
            "check": ev.check_name,
            "passed": bool(ev.passed),
            "severity": getattr(ev.severity, "value", str(ev.severity)),
            "famille": _famille(ev.check_name),
            # a dbt test's meaning is in its spec, never in its result (alerts.check_description)
            "description": check_description(ev, asset_graph),
            "observed": observed(md),
        })
    return checks[::-1]  # in the order they ran


def warning_lines(checks: list[dict] | None) -> list[str] | None:
    """The failed checks of a run that published, as ``bilan run`` prints them after it
    (observed vs expected for a warning), for the state to repeat while nothing changes (a
    skipped run checks nothing); None when the run's checks could not be read (unknown)."""
    if checks is None:
        return None
    from dagster_project.sensors.alerts import failed_check_line

    return [
        failed_check_line(
            f"{c['asset']}:{c['check']}", c["severity"], c["description"],
            f"({c['observed']})" if c["observed"] and c["severity"] != "ERROR" else "",
        )
        for c in checks if not c["passed"]
    ]


def _pdf_mode() -> bool | None:
    v = os.environ.get(PDF_ENV, "").strip().lower()
    if v in ("0", "false", "no", "non"):
        return False
    if v in ("1", "true", "yes", "oui"):
        return True
    return None


@dg.asset(
    key=RAPPORT_BILAN,
    deps=[MARTS_PUBLIES],
    group_name="publication",
    kinds={"html", "pdf", "xlsx", "parquet"},
    pool="warehouse_writer",  # reads the internal warehouse (data-quality aggregates)
    description="Bilan de l'Insertion of each published exercise (HTML, PDF when Chromium is "
    "installed), synthesis workbook (xlsx) and Parquet copies of the marts, from marts.duckdb.",
)
def rapport_bilan(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    checks = run_checks(context)
    out = generate(
        marts_path=warehouse.marts_path(),
        out_dir=warehouse.dir_path(),
        warehouse_path=warehouse.db_path(),
        checks=checks,
        run_id=context.run.run_id,
        pdf=_pdf_mode(),
    )
    for w in out.warnings:
        context.log.warning(w)
    # this run's publication is complete: an unchanged next run may skip (dagster_project/state).
    # Not worth a long wait: left incomplete, the state only makes the next run rebuild.
    try:
        with warehouse.locked(holder=f"dagster run {context.run.run_id} (rapports)",
                              timeout_s=5):
            state.record_reports(
                warehouse.dir_path(),
                state.run_lineage(context.run, context.instance.get_run_by_id),
                warning_lines(checks),
            )
    except WarehouseBusy as exc:
        context.log.warning(f"état de publication non complété (le prochain run refera "
                            f"tout) : {exc}")
    md: dict[str, dg.MetadataValue] = {
        "rapport_dir": dg.MetadataValue.path(str(warehouse.dir_path() / "rapport")),
        "parquet_dir": dg.MetadataValue.path(str(warehouse.dir_path() / "parquet")),
        "exercices": dg.MetadataValue.text(", ".join(map(str, sorted(out.html)))),
        "pdf": dg.MetadataValue.bool(bool(out.pdf)),
    }
    for ex, p in out.html.items():
        md[f"html_{ex}"] = dg.MetadataValue.path(str(p))
    for ex, p in out.pdf.items():
        md[f"pdf_{ex}"] = dg.MetadataValue.path(str(p))
    for ex, p in out.xlsx.items():
        md[f"xlsx_{ex}"] = dg.MetadataValue.path(str(p))
    for t, p in out.parquet.items():
        md[f"parquet_{t}"] = dg.MetadataValue.path(str(p))
    if out.removed:
        md["supprimes"] = dg.MetadataValue.text(", ".join(p.name for p in out.removed))
        context.log.info("rapports retirés (plus publiés) : "
                         + ", ".join(p.name for p in out.removed))
    context.log.info("rapports : " + ", ".join(str(p) for p in out.html.values()))
    return dg.MaterializeResult(metadata=md)
