"""Orchestration end to end: drop → sensor → run → publish, one exercise re-run, failure alert.

One story on a temp raw dir, a temp warehouse and a temp Dagster instance configured by the
committed template, with the real job (real ingestion, real dbt, real GX), three real runs:

A. The 2017 drop arrives with one finance amount off by 1 €. The drop sensor requests one run (and
   registers partition 2017); the run fails on the control totals against the published report,
   nothing is published, and the run-failure sensor posts what failed (check, observed vs
   expected, link) to a local webhook.
B. The finance file is corrected and a generated 2019 exercise is dropped beside it, while the
   sensor keeps evaluating: one run, which registers partition 2019, covers 2017..2019 and
   publishes both exercises.
C. A 2019 payment is corrected (and, meanwhile, a 2017 change is pending). A data engineer
   re-runs exercise 2019 alone (``partition_key="2019"``): only 2019 is re-ingested (the 2017
   change is not), dbt and the publication rebuild everything downstream.

Then the materialization and check events of those runs are read back from the instance to check
the metadata every asset carries. ~2.5 min on a 2-core machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project.ingestion.loader import default_workers
from dagster_project.partitions import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.sensors.alerts import run_failure_alert
from dagster_project.sensors.raw_drop import raw_drop_sensor
from tests.conftest import ROOT
from tests.orchestration_support import project_instance, webhook_server

pytestmark = pytest.mark.slow

QUIET_S = 0.3
FINANCES = Path("2017") / "finances" / "mandats_2017.csv"
GOOD_AMOUNT = b";Avance;14\xa0216,00\r\n"
BAD_AMOUNT = b";Avance;14\xa0217,00\r\n"


class Story:
    def __init__(self, base: Path, instance: dg.DagsterInstance):
        self.base = base
        self.raw = base / "raw"
        self.warehouse = base / "warehouse"
        self.instance = instance
        self.cursor: str | None = None
        self.requests: list[dg.RunRequest] = []
        self.partition_requests: list = []
        self.results: dict[str, dg.ExecuteInProcessResult] = {}
        self.alerts: list[dict] = []

    # --- the daemon's part -------------------------------------------------------------
    def sensor_tick(self) -> list[dg.RunRequest]:
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor) as ctx:
            data = raw_drop_sensor.evaluate_tick(ctx)
        self.cursor = data.cursor
        for req in data.dynamic_partitions_requests or []:
            self.partition_requests.append(req)
            self.instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
        return list(data.run_requests)

    def sensor_until_run(self) -> dg.RunRequest:
        runs = self.sensor_tick()
        assert runs == [], "a run requested before the drop settled"
        time.sleep(QUIET_S + 0.1)
        runs = self.sensor_tick()
        assert len(runs) == 1, runs
        assert self.sensor_tick() == []  # and only one
        self.requests.append(runs[0])
        return runs[0]

    def execute(self, name: str, **kwargs) -> dg.ExecuteInProcessResult:
        from dagster_project.definitions import defs

        result = defs.resolve_job_def("bilan_nightly").execute_in_process(
            instance=self.instance, raise_on_error=False, **kwargs
        )
        self.results[name] = result
        return result


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    base = tmp_path_factory.mktemp("orchestration_story")
    mp = pytest.MonkeyPatch()
    mp.setenv("BILAN_RAW_DIR", str(base / "raw"))
    mp.setenv("BILAN_WAREHOUSE_DIR", str(base / "warehouse"))
    mp.setenv("BILAN_SENSOR_QUIET_S", str(QUIET_S))
    mp.setenv("BILAN_DAGSTER_URL", "http://bilan.interne:3000")
    mp.delenv("BILAN_WRITER_LOCK_HELD", raising=False)
    try:
        with project_instance(base / "dagster_home") as instance, \
                webhook_server() as (hook_url, received):
            s = Story(base, instance)
            # --- A: a 2017 drop with one amount off by 1 € -------------------------------
            shutil.copytree(ROOT / "data" / "raw" / "2017", s.raw / "2017")
            csv = s.raw / FINANCES
            good = csv.read_bytes()
            assert good.count(GOOD_AMOUNT) >= 1
            csv.write_bytes(good.replace(GOOD_AMOUNT, BAD_AMOUNT, 1))
            req_a = s.sensor_until_run()
            result_a = s.execute("A", tags=req_a.tags)
            from dagster_project.definitions import defs

            context = dg.build_run_status_sensor_context(
                sensor_name="alerte_echec_run",
                dagster_event=result_a.get_run_failure_event(),
                dagster_instance=instance,
                dagster_run=result_a.dagster_run,
                repository_def=defs.get_repository_def(),  # as the daemon gives it
            )
            mp.setenv("BILAN_ALERT_WEBHOOK", hook_url)
            run_failure_alert(context)
            s.alerts = list(received)
            s.marts_after_a = (s.warehouse / "marts.duckdb").exists()

            # --- B: file corrected + a new 2019 exercise dropped, sensor evaluating ---------
            csv.write_bytes(good)
            assert s.sensor_tick() == []
            subprocess.run(
                [str(Path(sys.executable).parent / "bilan-data"), "--exercice", "2019",
                 "--seed", "7", "--out", str(s.raw)],
                check=True, capture_output=True, timeout=120,
            )
            req_b = s.sensor_until_run()
            s.execute("B", tags=req_b.tags)

            # --- C: re-run exercise 2019 alone ------------------------------------------
            # an operator corrected one 2019 payment; meanwhile a 2017 change is pending:
            # the 2019 re-run must load the first and leave 2017 alone
            csv19 = s.raw / "2019" / "finances" / "mandats_2019.csv"
            body, sep, last = csv19.read_bytes().rstrip(b"\r\n").rpartition(b"\r\n")
            cents = b"01" if last[-2:] != b"01" else b"02"
            csv19.write_bytes(body + sep + last[:-2] + cents + b"\r\n")
            csv.write_bytes(good.replace(GOOD_AMOUNT, BAD_AMOUNT, 1))
            s.execute("C", partition_key="2019")
            yield s
    finally:
        mp.undo()


def materializations(instance, run_id) -> list[dg.AssetMaterialization]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    return [r.event_log_entry.asset_materialization for r in records]


def check_evaluations(instance, run_id) -> dict[str, object]:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    out = {}
    for r in records:
        ev = r.event_log_entry.dagster_event.event_specific_data
        out[f"{ev.asset_key.to_user_string()}:{ev.check_name}"] = ev
    return out


def md(m) -> dict:
    return {k: getattr(v, "value", v) for k, v in m.metadata.items()}


def test_a_broken_drop_fails_publishes_nothing_and_alerts(story):
    a = story.results["A"]
    req = story.requests[0]
    assert req.tags[RANGE_START_TAG] == req.tags[RANGE_END_TAG] == "2017"
    assert not a.success
    assert not story.marts_after_a, "a failing run must not publish"
    failed = {k: v for k, v in check_evaluations(story.instance, a.run_id).items() if not v.passed}
    control = "marts/fct_controles_publies:fct_controles_publies_conformes_au_bilan_publie"
    assert control in failed

    assert len(story.alerts) == 1
    body = story.alerts[0]["json"]
    assert body["run_id"] == a.run_id and body["job"] == "bilan_nightly"
    assert body["exercices"] == "2017"
    assert body["url"] == f"http://bilan.interne:3000/runs/{a.run_id}"
    assert control in [c["check"] for c in body["failed_checks"]]
    check = next(c for c in body["failed_checks"] if c["check"] == control)
    assert check["severity"] == "ERROR" and "observé" in check["observed_vs_expected"]
    # what the failed test means, not "" (an on-call engineer read a bare test name)
    assert check["description"].startswith("chiffre(s) du bilan publié que le pipeline ne "
                                           "retrouve pas"), check
    assert body["launched_by"] == "lancé par le capteur de dépôts"
    assert body["parent_run_id"] is None
    # the control total itself, observed vs expected (1 € more than the published report)
    assert any(
        "montant_paye_eur" in c and "observé 15866992" in c and "attendu 15866991" in c
        for c in body["failed_controls"]
    ), body["failed_controls"]
    assert body["controls_evaluated"] is True  # this run rebuilt them
    text = body["text"]
    assert control in text and "montant_paye_eur" in text and text.endswith(body["url"])


def test_b_new_exercise_folder_gives_one_run_that_publishes_it(story):
    b = story.results["B"]
    req_a, req_b = story.requests
    assert b.success
    assert req_b.run_key != req_a.run_key
    assert (req_b.tags[RANGE_START_TAG], req_b.tags[RANGE_END_TAG]) == ("2017", "2019")
    added = [list(r.partition_keys) for r in story.partition_requests]
    assert added == [["2017"], ["2019"]]
    assert story.instance.get_dynamic_partitions("exercice") == ["2017", "2019"]
    raw_parts = {m.partition for m in materializations(story.instance, b.run_id)
                 if m.asset_key.path[0] == "raw"}
    assert raw_parts == {"2017", "2019"}
    con = duckdb.connect(str(story.warehouse / "marts.duckdb"), read_only=True)
    try:
        exercices = {
            r[0] for r in con.execute(
                "SELECT DISTINCT exercice FROM synthese_thematiques").fetchall()
        }
        total = con.execute(
            "SELECT sum(montant_paye_eur) FROM synthese_thematiques WHERE exercice = 2017"
        ).fetchone()[0]
    finally:
        con.close()
    assert exercices == {2017, 2019}
    assert str(total) == "15866991.00"  # the corrected file was re-loaded


def test_c_one_exercise_rerun_reingests_only_it_and_rebuilds_downstream(story):
    c, b = story.results["C"], story.results["B"]
    assert c.success
    assert c.dagster_run.tags.get("dagster/partition") == "2019"
    mats = materializations(story.instance, c.run_id)
    raw = [m for m in mats if m.asset_key.path[0] == "raw"]
    assert {m.partition for m in raw} == {"2019"} and len(raw) == 6
    assert md(raw[0])["exercices"] == "2019"
    # downstream rebuilt whole: every dbt model and the publication, unpartitioned
    keys = {m.asset_key.to_user_string() for m in mats if m.partition is None}
    assert {"marts/fct_synthese_thematiques", "analystes/marts_publies"} <= keys
    assert len([k for k in keys if k.startswith(("staging/", "intermediate/", "marts/"))]) > 20
    con = duckdb.connect(str(story.warehouse / "bilan.duckdb"), read_only=True)
    try:
        touched = {
            r[0] for r in con.execute(
                "SELECT DISTINCT exercice FROM raw.manifest_history WHERE run_id = ?", [c.run_id]
            ).fetchall()
        }
        loaded_2017_by = {
            r[0] for r in con.execute(
                "SELECT DISTINCT run_id FROM raw.raw_participants WHERE exercice = 2017"
            ).fetchall()
        }
    finally:
        con.close()
    assert touched == {2019}  # the corrected 2019 export, nothing of 2017
    assert c.run_id not in loaded_2017_by  # 2017's rows were not reloaded
    assert set(md(raw[0])["par_exercice"]) == {"2019"}
    published = duckdb.connect(str(story.warehouse / "marts.duckdb"), read_only=True)
    try:
        rows = published.execute(
            "SELECT exercice, sum(montant_paye_eur) FROM synthese_thematiques GROUP BY 1"
        ).fetchall()
    finally:
        published.close()
    totals = {ex: str(v) for ex, v in rows}
    assert set(totals) == {2017, 2019}
    assert totals[2017] == "15866991.00"  # the pending 2017 change was not loaded
    assert b.run_id != c.run_id


def test_every_asset_carries_useful_metadata(story):
    b = story.results["B"]
    mats = materializations(story.instance, b.run_id)
    by_key = {}
    for m in mats:
        by_key.setdefault(m.asset_key.to_user_string(), []).append(m)

    manifest = md(by_key["raw/manifest"][0])
    for key in ("files_loaded", "files_rejected", "files_ignored", "files_replaced",
                "rows_read", "rows_loaded", "rows_rejected", "dagster/row_count"):
        assert key in manifest, key
    assert set(manifest["inputs_sha256"]) == {"2017", "2019"}
    assert all(len(h) == 64 for h in manifest["inputs_sha256"].values())
    per_ex = manifest["par_exercice"]
    assert per_ex["2019"]["files_loaded"] == 214  # 213 workbooks + the finance export
    assert per_ex["2017"]["files_unchanged"] >= 220  # only the corrected CSV was re-read
    # where the time went: 2019's workbooks were parsed, none of 2017's
    phases = ["list", "hash", "first_batch", "parse", "write", "commit"]
    assert set(per_ex["2019"]["timings_s"]) == set(phases)
    assert set(per_ex["2017"]["timings_s"]) == {"list", "hash", "write", "commit"}
    # 213 workbooks: a pool of the default size parsed them (1: the loader's own process)
    assert per_ex["2019"]["parse_workers"] == default_workers()
    assert per_ex["2017"]["parse_workers"] == 0
    table = manifest["timings"].splitlines()  # the phases in order, summed over the exercises
    assert [row.split(" | ")[0].strip("| ") for row in table[2:]] == phases
    assert manifest["rows_read"] == manifest["rows_loaded"] + manifest["rows_rejected"]
    assert md(by_key["raw/raw_participants"][0])["dagster/row_count"] > 20000
    # Dagster gives those run totals to both partitions (it said 2016's were every exercise's):
    # the metadata says so, and each partition's own figures are in its observation
    assert manifest["portee"].startswith("totaux des exercices 2017, 2019 de ce run")
    records = story.instance.get_records_for_run(
        b.run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION).records
    own = {}
    for r in records:
        obs = r.event_log_entry.asset_observation
        if obs.asset_key.path[0] == "raw":
            own[(obs.asset_key.to_user_string(), obs.partition)] = {
                k: getattr(v, "value", v) for k, v in obs.metadata.items()}
    from dagster_project.assets.ingestion import RAW_KEYS

    assert len(own) == 2 * len(RAW_KEYS), sorted(own)  # every raw table, both exercises
    for ex in ("2017", "2019"):
        o = own[("raw/manifest", ex)]
        assert o["exercices"] == ex and set(o["par_exercice"]) == {ex}
        for k in ("files_loaded", "files_rejected", "rows_read", "rows_loaded", "rows_rejected"):
            assert o[k] == per_ex[ex][k], (ex, k)
    counts = [own[("raw/raw_participants", ex)]["dagster/row_count"] for ex in ("2017", "2019")]
    assert all(c > 0 for c in counts)
    assert sum(counts) == md(by_key["raw/raw_participants"][0])["dagster/row_count"]

    dbt_md = md(by_key["marts/fct_synthese_thematiques"][0])
    assert dbt_md["status"] == "success" and dbt_md["unique_id"].startswith("model.")
    # dbt invoked once per run: one dbt invocation id across every dbt asset of the run
    invocations = {md(m).get("invocation_id") for k, ms in by_key.items() for m in ms
                   if k.split("/")[0] in ("seeds", "staging", "intermediate", "marts")}
    assert len(invocations) == 1 and None not in invocations

    pub = md(by_key["analystes/marts_publies"][0])
    assert pub["path"] == str(story.warehouse / "marts.duckdb")
    assert Path(pub["data_docs"]).is_file() and pub["data_docs"].endswith("index.html")
    assert pub["controle_2017_montant_paye_eur"] == "observé 15866991.00 / attendu 15866991.00 (ok)"
    assert pub["controles_ko"] == 0 and pub["rows_synthese_thematiques"] > 0

    checks = check_evaluations(story.instance, b.run_id)
    gx = checks["marts/fct_synthese_thematiques:gx_synthese_thematiques"]
    assert gx.passed and gx.severity == dg.AssetCheckSeverity.ERROR
    assert Path(md(gx)["data_docs"]).is_file()
    conservation = checks["raw/manifest:manifest_conservation"]
    assert conservation.passed and md(conservation)["files_not_conserved"] == 0
    # every payment of the calibrated drop is counted: the warning check passes
    paiements = checks["raw/raw_mandats:paiements_comptes"]
    assert paiements.passed and paiements.severity == dg.AssetCheckSeverity.WARN
    assert md(paiements)["paiements_non_comptes"] == 0
    dbt_checks = [v for k, v in checks.items() if "dagster_dbt/failed_row_count" in md(v)]
    assert len(dbt_checks) > 50
    assert {v.severity for v in dbt_checks} <= {dg.AssetCheckSeverity.ERROR,
                                                 dg.AssetCheckSeverity.WARN}

    # the pool the steps declare has its limit of one (enforced per run: no step claims a slot)
    info = story.instance.event_log_storage.get_concurrency_info("warehouse_writer")
    assert info.limit == 1 and not info.claimed_slots and not info.pending_steps
