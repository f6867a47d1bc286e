"""The code location as Dagster sees it: validation, snapshot, pools, retries, freshness, instance.

Snapshot: tests/snapshots/definitions.json lists every asset key (group, partitioning, pool),
asset check (blocking flag, severity), job, schedule and sensor of the code location. Any change to
the graph fails ``test_definitions_match_snapshot`` with the list of what was added, removed or
changed. When the change is intended (a new dbt model, a new report asset, a renamed check),
regenerate the file and commit it with the change:

    UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_orchestration_definitions.py \
        -k snapshot

then review ``git diff tests/snapshots/definitions.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tests.conftest import ROOT

SNAPSHOT = ROOT / "tests" / "snapshots" / "definitions.json"
DAGSTER = Path(sys.executable).parent / "dagster"
TEMPLATE = ROOT / "dagster_home.template.yaml"


@pytest.fixture(scope="module")
def defs():
    from dagster_project.definitions import defs

    return defs


def _dbt_severities() -> dict[str, str]:
    from dagster_project.assets.dbt import DBT_PROJECT

    manifest = json.loads(Path(DBT_PROJECT.manifest_path).read_text(encoding="utf-8"))
    return {
        uid: (node.get("config", {}).get("severity") or "error").lower()
        for uid, node in manifest["nodes"].items()
        if node.get("resource_type") == "test"
    }


def describe(defs) -> dict:
    """What the snapshot records: stable, readable, sorted."""
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    severities = _dbt_severities()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": node.partitions_def.name if node.partitions_def else None,
            "pools": sorted(node.pools or []),
        }
    checks = {}
    for ck in sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.to_user_string(), c.name)):
        spec = graph.get_check_spec(ck)
        uid = (spec.metadata or {}).get("dagster_dbt/unique_id")
        uid = getattr(uid, "value", uid)
        checks[f"{ck.asset_key.to_user_string()}:{ck.name}"] = {
            "blocking": spec.blocking,
            # dbt tests: their dbt severity; our own checks report ERROR results when blocking
            "severity": (
                severities.get(uid, "error") if uid else ("error" if spec.blocking else "warn")
            ),
            "source": "dbt" if uid else "python",
        }
    jobs = {}
    for job in repo.get_all_jobs():
        if job.name.startswith("__"):
            continue  # Dagster's implicit asset job
        jobs[job.name] = {
            "executor": job.executor_def.name,
            "partitions": getattr(job.partitions_def, "name", None) if job.partitions_def else None,
        }
    schedules = {
        s.name: {
            "job": s.job_name,
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "default_status": s.default_status.value,
        }
        for s in repo.schedule_defs
    }
    sensors = {
        s.name: {
            "type": s.sensor_type.value,
            "jobs": sorted(t.job_name for t in s.targets if t.job_name) if s.targets else [],
            "minimum_interval_seconds": s.minimum_interval_seconds,
            "default_status": s.default_status.value,
        }
        for s in repo.sensor_defs
    }
    return {"assets": assets, "checks": checks, "jobs": jobs, "schedules": schedules,
            "sensors": sensors}


def _diff(expected: dict, got: dict) -> list[str]:
    lines = []
    for section in sorted(set(expected) | set(got)):
        exp, cur = expected.get(section, {}), got.get(section, {})
        for name in sorted(set(cur) - set(exp)):
            lines.append(f"  + {section}: {name} {cur[name]}")
        for name in sorted(set(exp) - set(cur)):
            lines.append(f"  - {section}: {name}")
        for name in sorted(set(exp) & set(cur)):
            if exp[name] != cur[name]:
                lines.append(f"  ~ {section}: {name} {exp[name]} -> {cur[name]}")
    return lines


def test_definitions_match_snapshot(defs):
    got = describe(defs)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(json.dumps(got, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                            encoding="utf-8")
        pytest.skip(f"snapshot rewritten: {SNAPSHOT} (review and commit it)")
    assert SNAPSHOT.exists(), (
        f"no snapshot at {SNAPSHOT}: create it with UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest "
        "tests/test_orchestration_definitions.py -k snapshot"
    )
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    diff = _diff(expected, got)
    assert not diff, (
        "The Dagster definitions changed (assets, checks, jobs, schedules or sensors):\n"
        + "\n".join(diff[:60])
        + (f"\n  ... and {len(diff) - 60} more" if len(diff) > 60 else "")
        + "\nIf intended, regenerate the snapshot and commit it with your change:\n"
        "  UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_orchestration_definitions.py"
        " -k snapshot\n  git diff tests/snapshots/definitions.json"
    )


def test_snapshot_invariants(defs):
    """What must hold whatever the snapshot says (so a careless regeneration cannot hide it)."""
    got = describe(defs)
    assets, checks = got["assets"], got["checks"]
    for key in ("raw/manifest", "marts/fct_synthese_thematiques", "analystes/marts_publies"):
        assert key in assets, key
    # only the ingestion is partitioned by exercise; everything downstream is rebuilt whole
    partitioned = {k for k, v in assets.items() if v["partitions"]}
    assert partitioned == {k for k in assets if k.startswith("raw/")}
    assert {v["partitions"] for v in assets.values() if v["partitions"]} == {"exercice"}
    # every step writing the warehouse is in the one-slot pool
    for key, v in assets.items():
        if key.startswith(("raw/", "staging/", "intermediate/", "marts/", "seeds/", "analystes/")):
            assert v["pools"] == ["warehouse_writer"], key
    # dbt tests with severity error block the publication; warn tests do not
    dbt_checks = {k: v for k, v in checks.items() if v["source"] == "dbt"}
    assert len(dbt_checks) > 50
    assert all(v["blocking"] == (v["severity"] == "error") for v in dbt_checks.values())
    assert any(v["severity"] == "warn" for v in dbt_checks.values())
    for name in ("raw/manifest:manifest_conservation",
                 "marts/fct_synthese_thematiques:gx_synthese_thematiques",
                 "staging/stg_finances__mandats:gx_mandats",
                 "staging/stg_operateurs__participants:gx_participants"):
        assert checks[name] == {"blocking": True, "severity": "error", "source": "python"}, name
    assert got["jobs"]["bilan_nightly"] == {"executor": "in_process", "partitions": "exercice"}
    assert got["schedules"]["bilan_nightly_0200_paris"]["timezone"] == "Europe/Paris"
    assert got["sensors"]["raw_drop_sensor"]["jobs"] == ["bilan_nightly"]
    assert got["sensors"]["alerte_echec_run"]["type"] == "RUN_STATUS"


def test_io_steps_pool_and_publication_freshness(defs):
    graph = defs.resolve_asset_graph()
    for key in (["raw", "manifest"], ["marts", "fct_actions"], ["analystes", "marts_publies"]):
        op = graph.assets_def_for_key(dg.AssetKey(key)).op
        # no RetryPolicy: Dagster would retry an interrupted step (retries.py); these steps
        # ask for their retries themselves (test below)
        assert op.retry_policy is None, key
        assert op.pool == "warehouse_writer", key
    key = dg.AssetKey(["analystes", "marts_publies"])
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == key)
    policy = spec.freshness_policy
    assert type(policy).__name__ == "CronFreshnessPolicy"
    assert policy.deadline_cron == "0 7 * * *" and policy.timezone == "Europe/Paris"


def test_dagster_definitions_validate(tmp_path):
    # Its own instance from the committed template: on a fresh clone `make test` runs before
    # any `make run`, so the Makefile's DAGSTER_HOME (.dagster_home) does not exist yet.
    shutil.copy(ROOT / "dagster_home.template.yaml", tmp_path / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DO_NOT_TRACK": "1",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "GX_ANALYTICS_ENABLED": "false"}
    proc = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful for code location bilan_insertion" in proc.stdout + proc.stderr


def test_instance_template(tmp_path):
    """The committed instance config: SQLite under DAGSTER_HOME, no telemetry, one writer slot."""
    cfg = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    assert cfg["telemetry"]["enabled"] is False
    assert cfg["concurrency"]["pools"]["default_limit"] == 1
    assert cfg["run_retries"]["enabled"] is True and cfg["run_retries"]["max_retries"] >= 1
    assert "storage" not in cfg or "sqlite" in cfg["storage"]
    (tmp_path / "dagster.yaml").write_text(TEMPLATE.read_text(encoding="utf-8"))
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        # Dagster's SQLite event log, its connections kept (dagster_project/event_log.py)
        assert type(instance.event_log_storage).__name__ == "KeptConnectionsEventLogStorage"
        assert type(instance).__name__ == "BilanInstance"
        assert instance.run_retries_enabled and instance.run_retries_max_retries >= 1
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1
        # per run (the queue), never a step waiting for a slot (tests/test_reliability_concurrency)
        assert pools.pool_granularity.value == "run"
        storage = instance.event_log_storage
        assert storage.get_concurrency_info("warehouse_writer").limit == 1
        # the pool's storage still counts slots (an instance configured per step, e.g. one
        # copied from an older template, claims them): size from default_limit, claim
        storage.initialize_concurrency_limit_to_default("warehouse_writer")
        first = storage.claim_concurrency_slot("warehouse_writer", "run-a", "raw_tables")
        second = storage.claim_concurrency_slot("warehouse_writer", "run-b", "bilan_dbt_assets")
        assert first.is_claimed and not second.is_claimed  # a second writer waits
        storage.free_concurrency_slot_for_step("run-a", "raw_tables")
        again = storage.claim_concurrency_slot("warehouse_writer", "run-b", "bilan_dbt_assets")
        assert again.is_claimed
        storage.free_concurrency_slot_for_step("run-b", "bilan_dbt_assets")
    finally:
        instance.dispose()
    proc = subprocess.run(
        [str(DAGSTER), "instance", "concurrency", "get", "warehouse_writer"],
        env={**os.environ, "DAGSTER_HOME": str(tmp_path), "DO_NOT_TRACK": "1"},
        capture_output=True, text=True, timeout=60,
    )
    assert '"warehouse_writer": 0 / 1 slots occupied' in proc.stdout, proc.stdout + proc.stderr


def test_makefile_uses_template_and_compiles():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "DAGSTER_HOME ?= $(CURDIR)/.dagster_home" in makefile
    assert "cp dagster_home.template.yaml $(DAGSTER_HOME)/dagster.yaml" in makefile
    assert "pip install --quiet --compile" in makefile
    # the venv is byte-compiled: dagster's own modules already have their .pyc
    import dagster

    pycache = Path(dagster.__file__).parent / "__pycache__"
    assert list(pycache.glob("__init__.cpython-*.pyc"))


def test_dbt_data_failures_are_not_retried_but_lock_errors_are():
    from types import SimpleNamespace

    from dagster_project.assets.dbt_errors import raise_unless_successful

    context = SimpleNamespace(retry_number=1)

    def invocation(messages, returncode=1):
        return SimpleNamespace(
            is_successful=lambda: False,
            get_error=lambda: RuntimeError("dbt failed"),
            _error_messages=messages,
            process=SimpleNamespace(returncode=returncode),
        )

    # a failed test: Failure(allow_retries=False)
    with pytest.raises(dg.Failure) as failure:
        raise_unless_successful(
            invocation(["Failure in test fct_controles_publies_conformes (x)"]), context)
    assert failure.value.allow_retries is False
    assert "fct_controles_publies_conformes" in failure.value.description
    # a model error: its cause is on the line after the model's name, and must not be lost
    with pytest.raises(dg.Failure) as failure:
        raise_unless_successful(invocation([
            "Runtime Error in model fct_synthese_thematiques (models/marts/x.sql)\n"
            '  Binder Error: Referenced column "sorties_emploi_formatio" not found\n'
            "  Candidate bindings: ..."]), context)
    assert ("Runtime Error in model fct_synthese_thematiques (models/marts/x.sql) : Binder "
            'Error: Referenced column "sorties_emploi_formatio" not found') in (
        failure.value.description)
    # transient: the DuckDB file still locked by another process, or dbt killed: a retry, after
    # 4 s on the second attempt (2 s, then doubled)
    for transient in (invocation(["IO Error: Could not set lock on file bilan.duckdb"]),
                      invocation([], returncode=-9)):
        with pytest.raises(dg.RetryRequested) as retry:
            raise_unless_successful(transient, context)
        assert retry.value.max_retries == 2 and retry.value.seconds_to_wait == 4
    # dbt stopped by SIGTERM (`kill`): not retried (Ctrl-C and Terminate reach the step itself
    # as Dagster's interrupt: test below)
    with pytest.raises(dg.Failure) as stopped:
        raise_unless_successful(invocation([], returncode=-15), context)
    assert stopped.value.allow_retries is False
    assert "dbt interrompu (SIGTERM)" in stopped.value.description
    ok = SimpleNamespace(is_successful=lambda: True)
    assert raise_unless_successful(ok, context) is None
    # Ctrl-C reaches dbt and the step together; when dbt's exit (2) is seen before Dagster
    # raises the interrupt, the step is still an interrupted one, never a failure on the data
    # (seen once in `make test`: the run said "dbt build en échec sur les données")
    from dagster._core.errors import DagsterExecutionInterruptedError
    from dagster._utils import interrupts

    with pytest.raises(DagsterExecutionInterruptedError):
        raise_unless_successful(invocation(["Encountered an error:\nTraceback (most recent "
                                            "call last):\n...\nKeyboardInterrupt"], 2), context)
    interrupts._received_interrupt["received"] = True
    try:
        with pytest.raises(DagsterExecutionInterruptedError):
            raise_unless_successful(invocation(["Encountered an error:"], 2), context)
    finally:
        interrupts._received_interrupt["received"] = False


def test_interrupted_steps_stop_the_run_transient_failures_are_retried():
    """Why the warehouse steps have no RetryPolicy: with one, Dagster retries a step that was
    interrupted (Ctrl-C, kill, Terminate in the UI), so a stopped run went on and published.
    retries.py retries transient failures only (the warehouse held by another writer)."""
    from concurrent.futures.process import BrokenProcessPool

    from dagster._core.errors import DagsterExecutionInterruptedError

    from dagster_project.assets.retries import retried_if_transient
    from dagster_project.ingestion.warehouse import WarehouseBusy

    def fails_once(name: str, exc: Exception) -> dg.AssetsDefinition:
        @dg.asset(name=name)
        def _asset(context):
            with retried_if_transient(context):
                if context.retry_number == 0:
                    raise exc
            return context.retry_number

        return _asset

    busy_once = fails_once("busy_once", WarehouseBusy("entrepôt tenu par un autre écrivain"))
    worker_died_once = fails_once("worker_died_once", BrokenProcessPool("a parse worker died"))

    @dg.asset
    def bug(context):
        with retried_if_transient(context):
            raise ValueError("not transient")

    @dg.asset
    def stopped(context):
        with retried_if_transient(context):
            raise DagsterExecutionInterruptedError()

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
    def stopped_with_policy():
        raise DagsterExecutionInterruptedError()

    def events(asset) -> list[str]:
        seen = []
        try:
            res = dg.materialize([asset], raise_on_error=False)
            seen = [e.event_type_value for e in res.all_events]
        except DagsterExecutionInterruptedError:
            seen.append("INTERRUPTED")
        return [e for e in seen if e.startswith("STEP_") or e == "INTERRUPTED"]

    retried = ["STEP_START", "STEP_UP_FOR_RETRY", "STEP_RESTARTED", "STEP_OUTPUT", "STEP_SUCCESS"]
    assert events(busy_once) == retried
    assert events(worker_died_once) == retried
    assert events(bug) == ["STEP_START", "STEP_FAILURE"]
    assert events(stopped) == ["STEP_START", "STEP_FAILURE"]
    # what a RetryPolicy does with the same interruption (Dagster's own rule)
    assert events(stopped_with_policy).count("STEP_UP_FOR_RETRY") == 2


def test_a_step_out_of_retries_is_reported_by_its_cause():
    """Once its retries ran out, a step fails with Dagster's 'Exceeded max_retries': the CLI and
    the alert show the error that asked for them."""
    from dagster_project.assets.retries import retried_if_transient
    from dagster_project.ingestion.warehouse import WarehouseBusy
    from dagster_project.sensors.alerts import step_error, step_error_text

    @dg.asset
    def always_busy(context):
        with retried_if_transient(context):
            raise WarehouseBusy("entrepôt tenu par « bilan run (pid 42) »")

    import dagster_project.assets.retries as retries

    saved, retries.FIRST_DELAY_S = retries.FIRST_DELAY_S, 0
    try:
        res = dg.materialize([always_busy], raise_on_error=False)
    finally:
        retries.FIRST_DELAY_S = saved
    [failure] = [e for e in res.all_events if e.event_type_value == "STEP_FAILURE"]
    err = failure.event_specific_data.error
    assert "Exceeded max_retries" in err.message
    assert "tenu par « bilan run (pid 42) »" in step_error_text(step_error(err))
