"""Wake the data engineer: post a short message to a webhook when a run fails.

The message says what failed, which check, observed vs expected, and links to the run, so the
on-call engineer knows from the notification alone whether it is a refused file, a control total
or an infrastructure problem. Only sent when BILAN_ALERT_WEBHOOK is set; never includes data rows.
"""

import json
import os
import urllib.request

import dagster as dg


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    out = []
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    for rec in records:
        ev = rec.event_log_entry.dagster_event.event_specific_data
        if ev.passed:
            continue
        md = {k: getattr(v, "value", v) for k, v in (ev.metadata or {}).items()}
        observed = md.get("observed") or md.get("valeur_calculee") or md.get("failed")
        out.append(
            f"{ev.asset_key.to_user_string()}:{ev.check_name}"
            + (f" (observé {observed})" if observed not in (None, "", []) else "")
            + (f" — {ev.description}" if getattr(ev, "description", None) else "")
        )
    return out


def build_message(context: dg.RunFailureSensorContext) -> dict:
    run = context.dagster_run
    base = os.environ.get("BILAN_DAGSTER_URL", "http://localhost:3000").rstrip("/")
    checks = failed_checks(context.instance, run.run_id)
    failure = context.failure_event.message if context.failure_event else ""
    text = (
        f"bilan-insertion : le run {run.job_name} a échoué. {failure}".strip()
        + ("\nChecks en échec : " + "; ".join(checks) if checks else "")
        + f"\n{base}/runs/{run.run_id}"
    )
    return {
        "text": text,
        "job": run.job_name,
        "run_id": run.run_id,
        "failed_checks": checks,
        "url": f"{base}/runs/{run.run_id}",
    }


def post(url: str, payload: dict, timeout: float = 10.0) -> int:
    req = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (URL from the operator)
        return resp.status


@dg.run_failure_sensor(
    name="alerte_echec_run",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts what failed (check, observed vs expected, link) to BILAN_ALERT_WEBHOOK.",
)
def run_failure_alert(context: dg.RunFailureSensorContext):
    url = os.environ.get("BILAN_ALERT_WEBHOOK")
    if not url:
        return dg.SkipReason("BILAN_ALERT_WEBHOOK not set")
    status = post(url, build_message(context))
    context.log.info(f"alert posted ({status})")
