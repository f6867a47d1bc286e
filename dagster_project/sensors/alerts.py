"""Wake the data engineer: post a short message to a webhook when a run fails.

The message says what failed (job, exercises, failed steps), which check (with its severity and
observed vs expected: dbt failing rows, GX expectations, control totals against the published
report), and links to the run, so the on-call engineer knows from the notification alone whether
it is a refused file, a control total or an infrastructure problem. Only sent when
BILAN_ALERT_WEBHOOK is set (a Slack/Teams/Mattermost-style incoming webhook taking JSON with a
``text`` field); the link base is BILAN_DAGSTER_URL (default http://localhost:3000). Never includes
data rows or participant identifiers: only check names, counts and aggregate control figures.

A webhook that cannot be reached makes the sensor tick fail (visible in the UI) and Dagster retries
the same failed run on the next tick, so an alert is not silently lost.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Mapping

import dagster as dg
from dagster._core.storage.tags import RETRY_NUMBER_TAG

from dagster_project import settings
from dagster_project.partitions import RANGE_END_TAG, RANGE_START_TAG, range_keys
from dagster_project.run_tags import TAG_LAUNCHER, TAG_TRIGGER, launched_by_cli

WEBHOOK_ENV = "BILAN_ALERT_WEBHOOK"
URL_ENV = "BILAN_DAGSTER_URL"
MAX_ITEMS = 5


def _md(metadata) -> dict:
    return {k: getattr(v, "value", v) for k, v in (metadata or {}).items()}


def observed(md: dict) -> str:
    """Observed vs expected, from whichever convention the check's metadata follows."""
    if "observed" in md or "expected" in md:
        return f"observé {md.get('observed')} / attendu {md.get('expected')}"
    if "dagster_dbt/failed_row_count" in md:  # dbt test: rows violating the rule, expected 0
        return f"observé {md['dagster_dbt/failed_row_count']} ligne(s) en échec / attendu 0"
    failed = md.get("failed")
    if isinstance(failed, list) and failed:  # GX suite: failing expectations
        def one(f: dict) -> str:
            said = f"{f.get('rule') or f.get('expectation')} : observé {f.get('observed')}"
            if f.get("expected") is not None:
                said += f" / attendu {f['expected']}"
            if f.get("examples"):
                said += f" (ex. {' ; '.join(f['examples'])})"
            return said

        return f"{len(failed)} expectation(s) en échec : " + " | ".join(one(f) for f in failed[:3])
    if md.get("files_not_conserved"):  # manifest conservation
        return (f"{md['files_not_conserved']} fichier(s) non conservés "
                f"(lues {md.get('rows_read')} = chargées {md.get('rows_loaded')} "
                f"+ non chargées {md.get('rows_rejected')} attendu)")
    return ""


def failed_check_line(check: str, severity: str, description: str, shown: str = "") -> str:
    """One failed check as ``bilan run`` prints it, and as a skipped run repeats a published
    run's warnings (``check``: 'asset:name'; ``shown``: observed vs expected, or metadata)."""
    said = " ".join(x for x in (description, shown) if x)
    return f"  check {check} ({severity}) a échoué : {said}"


def check_description(ev, asset_graph=None) -> str:
    """What a failed check says: its evaluation's description, else its spec's. dbt tests need
    the second: dagster-dbt puts a test's ``config.meta.description`` in its check spec, never
    in its results (the warnings of the dbt project say what they mean there)."""
    if ev.description or asset_graph is None:
        return ev.description or ""
    key = dg.AssetCheckKey(ev.asset_key, ev.check_name)
    if key not in asset_graph.asset_check_keys:  # a check of another code version
        return ""
    return asset_graph.get_check_spec(key).description or ""


def failed_checks(instance: dg.DagsterInstance, run_id: str, asset_graph=None) -> list[dict]:
    out = []
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    for rec in records:
        ev = rec.event_log_entry.dagster_event.event_specific_data
        ev = getattr(ev, "evaluation", ev)
        if ev.passed:
            continue
        out.append(
            {
                "check": f"{ev.asset_key.to_user_string()}:{ev.check_name}",
                "severity": getattr(ev.severity, "value", str(ev.severity)),
                "observed_vs_expected": observed(_md(ev.metadata)),
                "description": check_description(ev, asset_graph)[:300],
            }
        )
    return out


def step_error(err):
    """What failed a step: an exception raised in an op comes wrapped by Dagster ("Error occurred
    while executing op"; "Exceeded max_retries" once its retries ran out), and its cause says
    what failed. Used by the alert and `bilan run`."""
    while err is not None and err.cause is not None and (
        err.cls_name in ("DagsterExecutionStepExecutionError", "RetryRequested")
        or (err.message or "").startswith("Exceeded max_retries")
    ):
        err = err.cause
    return err


INTERRUPTED = ("interrompue (Ctrl-C, kill ou Terminate dans l'UI) : run arrêté, "
               "sans nouvel essai")


def step_error_text(err, lines: int = 2) -> str:
    """A failed step's error in a line: an interruption said as such (not its class name)."""
    if err is not None and err.cls_name in ("DagsterExecutionInterruptedError",
                                            "KeyboardInterrupt"):
        return INTERRUPTED
    return " ".join((err.message or "").strip().splitlines()[:lines]) if err else ""


def failed_steps(context: dg.RunFailureSensorContext) -> list[dict]:
    out = []
    for event in context.get_step_failure_events():
        err = step_error(event.event_specific_data.error if event.event_specific_data else None)
        out.append({"step": event.step_key, "error": step_error_text(err)[:300]})
    return out


# the mart the control totals are read from: only rows rebuilt by the failed run say anything
# about it (a run that stopped before dbt built it leaves the previous run's rows in place)
CONTROLES = ["marts", "fct_controles_publies"]
NOT_EVALUATED = ("contrôles des chiffres publiés non évalués : marts.fct_controles_publies n'a "
                 "pas été reconstruit dans ce run")


def controls_rebuilt(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Did this run materialize ``marts/fct_controles_publies``?"""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return any(
        r.event_log_entry.dagster_event.asset_key == dg.AssetKey(CONTROLES) for r in records
    )


def failed_controls(limit: int = MAX_ITEMS) -> list[str]:
    """Control totals that differ from the published report, read from the warehouse if free
    (call it only for a run that rebuilt them: :func:`controls_rebuilt`)."""
    path = settings.warehouse_path()
    if not path.exists():
        return []
    try:
        import duckdb

        from dagster_project.publication import control_line, failed_control_rows

        con = duckdb.connect(str(path), read_only=True)
        try:
            rows = failed_control_rows(con, limit)
        finally:
            con.close()
    except Exception:  # busy, or the marts were never built: the checks above still say it
        return []
    return [control_line(r) for r in rows]


# what launched a run, as the alert says it (tag bilan/trigger, or the schedule's name)
TRIGGERS = {"schedule": "la planification nocturne", "raw_drop_sensor": "le capteur de dépôts"}


def _origin(tags: Mapping[str, str]) -> str:
    named = tags.get(TAG_TRIGGER) or tags.get("dagster/schedule_name")
    if named:
        return f"lancé par {TRIGGERS.get(named, named)}"
    return ("lancé par bilan run" if tags.get(TAG_LAUNCHER) == "cli"
            else "lancé à la main (UI ou CLI Dagster)")


def launched_by(
    tags: Mapping[str, str],
    parent_run_id: str | None = None,
    by_cli: bool = False,
    root_tags: Mapping[str, str] | None = None,
) -> str:
    """Who launched a run, in the alert's words (``by_cli``: ``bilan run`` executed it, see
    run_tags.py). A re-execution carries its parent's tags (its trigger among them): it is said
    to be one, of which run, and who launched the first run (``root_tags``)."""
    if parent_run_id is None:
        return _origin(tags)
    if tags.get(RETRY_NUMBER_TAG):
        how = "relance automatique"
    elif by_cli:
        how = "reprise par bilan run --from-failure"
    else:
        how = "reprise depuis l'UI ou l'API Dagster"
    return f"{how} du run {parent_run_id[:8]}, {_origin(tags if root_tags is None else root_tags)}"


def run_exercices(instance: dg.DagsterInstance, tags: dict) -> str:
    """The exercises a run covering a partition range stands for, in order ("2016, 2017"): its
    bounds alone may read backwards ("2017-2016"), a dynamic range following the order the
    partitions were added."""
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if not start or not end:
        return start or end or ""
    keys = range_keys(instance, tags)
    return ", ".join(keys) if keys is not None else f"{start} à {end}"


def build_message(context: dg.RunFailureSensorContext) -> dict:
    run = context.dagster_run
    base = os.environ.get(URL_ENV, "http://localhost:3000").rstrip("/")
    url = f"{base}/runs/{run.run_id}"
    tags = run.tags or {}
    exercices = tags.get("dagster/partition") or run_exercices(context.instance, tags) or "?"
    root = context.instance.get_run_by_id(run.root_run_id) if run.root_run_id else None
    trigger = launched_by(tags, run.parent_run_id, launched_by_cli(run),
                          root.tags if root else None)
    repo = context.repository_def
    checks = failed_checks(context.instance, run.run_id, repo.asset_graph if repo else None)
    steps = failed_steps(context)
    evaluated = controls_rebuilt(context.instance, run.run_id)
    controls = failed_controls() if evaluated else []
    failure = context.failure_event.message if context.failure_event else ""
    lines = [
        f"bilan-insertion : échec du run {run.job_name} (exercice(s) {exercices}, {trigger})."
    ]
    # what failed the run first: failed ERROR checks, control totals, then the failed steps when
    # no ERROR check explains them; failed warnings (non-blocking, e.g. payments not counted,
    # which may stay for weeks) last, never in place of the step that failed
    errors = [c for c in checks if c["severity"] == "ERROR"]
    warnings = [c for c in checks if c["severity"] != "ERROR"]
    for c in errors[:MAX_ITEMS]:
        lines.append(f"- check {c['check']} [{c['severity']}] {c['observed_vs_expected']}".rstrip())
    for ctl in controls:
        lines.append(f"- {ctl}")
    if not evaluated:
        lines.append(f"- {NOT_EVALUATED}")
    if not errors:
        for s in steps[:MAX_ITEMS]:
            lines.append(f"- étape {s['step']} : {s['error']}")
    for c in warnings[:MAX_ITEMS]:
        lines.append(f"- avertissement {c['check']} [{c['severity']}] "
                     f"{c['observed_vs_expected'] or c['description']}".rstrip())
    if len(lines) == 1 and failure:
        lines.append(failure[:300])
    lines.append(url)
    return {
        "text": "\n".join(lines),
        "job": run.job_name,
        "run_id": run.run_id,
        "parent_run_id": run.parent_run_id,
        "launched_by": trigger,
        "exercices": exercices,
        "failed_checks": checks,
        "failed_steps": steps,
        "failed_controls": controls,
        "controls_evaluated": evaluated,
        "url": url,
    }


def post(url: str, payload: dict, timeout: float = 10.0) -> int:
    req = urllib.request.Request(
        url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (URL from the operator)
        return resp.status


@dg.run_failure_sensor(
    name="alerte_echec_run",
    default_status=dg.DefaultSensorStatus.RUNNING,
    # a `bilan run` executes its job in process: its runs have no code location, and a sensor
    # watching only its own location never saw them fail (this instance has one location)
    monitor_all_code_locations=True,
    description="Posts what failed (check, observed vs expected, link) to BILAN_ALERT_WEBHOOK.",
)
def run_failure_alert(context: dg.RunFailureSensorContext):
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return dg.SkipReason(f"{WEBHOOK_ENV} not set")
    status = post(url, build_message(context))
    context.log.info(f"alert posted to the webhook ({status}) for run {context.dagster_run.run_id}")
