"""The skip of an unchanged run is safe: any change to what shapes the marts forces a rebuild.

Fast tests drive :mod:`dagster_project.state` directly (raw file changed/added/removed, seed,
model, macro or Python code changed, marts.duckdb replaced or deleted, state invalidated); slow
ones replay the session's real 2017 run: an unchanged ``bilan run`` skips everything (CLI guard),
a Dagster-launched run skips dbt, checks and publication (asset-level), and a changed raw file or
a removed exercise folder makes the next run rebuild and publish again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from dagster_project import state
from tests.conftest import ROOT, copy_run, pipeline_env, run_pipeline

EX = 2017


def _publish_fake(raw: Path, wh: Path, code: str | None = None) -> str:
    """A warehouse dir as a successful publication leaves it: the real loader's tables and
    digest (as the ingestion asset stores it), a stand-in marts.duckdb, no dbt."""
    from dagster_project.ingestion.loader import ingest_exercice

    wh.mkdir(parents=True, exist_ok=True)
    (wh / "marts.duckdb").write_bytes(b"marts")
    con = duckdb.connect(str(wh / "bilan.duckdb"))
    summaries = {ex: ingest_exercice(con, raw, ex, run_id="run-1", workers=1).input_sha256
                 for ex in state.discover_exercices(raw)}
    code = code if code is not None else state.code_digest()
    digest = state.state_digest(summaries, code)
    state.store_pending(con, "run-1", digest, summaries, code)
    assert state.record_publication(con, wh, "run-1", wh / "marts.duckdb")
    con.close()
    assert state.record_reports(wh, "run-1")  # the run's last step: its reports are written
    return digest


@pytest.fixture(scope="module")
def code() -> str:
    return state.code_digest()


@pytest.fixture
def published(tmp_path, code):
    raw = tmp_path / "raw"
    shutil.copytree(ROOT / "data" / "raw" / str(EX), raw / str(EX))
    wh = tmp_path / "wh"
    _publish_fake(raw, wh, code)
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged
    return raw, wh


def test_raw_file_content_change_forces_rebuild(published, code):
    raw, wh = published
    f = sorted((raw / str(EX) / "operateurs").iterdir())[0]
    data = f.read_bytes()
    st = f.stat()
    f.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: stat cache fooled…
    v = state.check_unchanged(raw, wh, [EX], code=code)
    # …as it fools git and the loader: documented limit; a real edit changes the mtime
    assert v.unchanged
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert not state.check_unchanged(raw, wh, [EX], code=code).unchanged


def test_raw_file_touched_but_identical_still_skips(published, code):
    raw, wh = published
    f = sorted((raw / str(EX) / "operateurs").iterdir())[0]
    f.touch()  # new mtime, same bytes: re-hashed, same sha256, nothing to redo
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged


def _older_copy(raw: Path) -> tuple[Path, Path]:
    """A second workbook for the same convention as an existing one (a copy under another
    name), older than it: the loader keeps the original and marks the copy 'replaced'."""
    ops = raw / str(EX) / "operateurs"
    original = next(f for f in sorted(ops.iterdir()) if "PDI-2017-" in f.name)
    copy = ops / f"ancienne version {original.name}"
    shutil.copy2(original, copy)
    st = original.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns - 60_000_000_000))
    return original, copy


def _statuses(wh: Path) -> dict[str, str]:
    con = duckdb.connect(str(wh / "bilan.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT file_name, status FROM raw.manifest").fetchall())
    finally:
        con.close()


def test_touching_an_older_workbook_of_a_convention_forces_rebuild(tmp_path, code):
    # The newest workbook of a convention is the one published: touching the older one makes
    # it the newest without changing any file's bytes, and the marts must follow.
    raw, wh = tmp_path / "raw", tmp_path / "wh"
    shutil.copytree(ROOT / "data" / "raw" / str(EX), raw / str(EX))
    original, copy = _older_copy(raw)
    _publish_fake(raw, wh, code)
    status = _statuses(wh)
    assert (status[original.name], status[copy.name]) == ("loaded", "replaced")
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged
    original.touch()  # the winner touched: still the newest, nothing to redo
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged
    os.utime(copy, ns=(time.time_ns(), original.stat().st_mtime_ns + 1_000_000_000))
    v = state.check_unchanged(raw, wh, [EX], code=code)
    assert not v.unchanged, v.reason
    # and the loader, re-run, computes the digest the check computes (published again)
    _publish_fake(raw, wh, code)
    status = _statuses(wh)
    assert (status[original.name], status[copy.name]) == ("replaced", "loaded")
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged


def test_touching_an_older_finance_export_forces_rebuild(tmp_path, code):
    # A mandate number in two exports counts from the newest export: touching the older one
    # makes its amount the one published without changing any file's bytes.
    raw, wh = tmp_path / "raw", tmp_path / "wh"
    shutil.copytree(ROOT / "data" / "raw" / str(EX), raw / str(EX))
    fin = raw / str(EX) / "finances"
    main = fin / f"mandats_{EX}.csv"
    lines = main.read_bytes().split(b"\r\n")
    first = lines[1].split(b";")
    first[-1] = b"1,00"  # the first mandate again, with another amount
    correction = fin / "correction.csv"
    correction.write_bytes(b"\r\n".join([lines[0], b";".join(first), b""]))
    os.utime(correction, ns=(time.time_ns(), main.stat().st_mtime_ns - 60_000_000_000))
    _publish_fake(raw, wh, code)

    def counted() -> str:
        con = duckdb.connect(str(wh / "bilan.duckdb"), read_only=True)
        try:
            return con.execute("SELECT source_file FROM raw.raw_mandats WHERE num_mandat = ?",
                               [first[1].decode()]).fetchone()[0]
        finally:
            con.close()

    assert counted().endswith(main.name)
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged
    main.touch()  # the newest touched: still the newest, nothing to redo
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged
    os.utime(correction, ns=(time.time_ns(), main.stat().st_mtime_ns + 1_000_000_000))
    v = state.check_unchanged(raw, wh, [EX], code=code)
    assert not v.unchanged, v.reason
    _publish_fake(raw, wh, code)  # the loader agrees: the correction counts now
    assert counted().endswith(correction.name)
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged


def test_an_unreadable_newest_workbook_skips_as_the_loader_chose(tmp_path, code):
    # A truncated correction counts under the number its file name carries (the loader): the
    # publication's record must say so, or the check names another winner and never skips
    raw, wh = tmp_path / "raw", tmp_path / "wh"
    shutil.copytree(ROOT / "data" / "raw" / str(EX), raw / str(EX))
    ops = raw / str(EX) / "operateurs"
    original = next(f for f in sorted(ops.iterdir()) if "PDI-2017-" in f.name)
    conv = re.search(r"PDI-2017-\d{4}", original.name)[0]
    data = original.read_bytes()
    (ops / f"correction {conv}.xlsx").write_bytes(data[: len(data) // 2])
    _publish_fake(raw, wh, code)
    status = _statuses(wh)
    assert (status[original.name], status[f"correction {conv}.xlsx"]) == ("replaced", "rejected")
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged
    os.utime(original, ns=(time.time_ns(), time.time_ns() + 10**12))  # the older one touched
    assert not state.check_unchanged(raw, wh, [EX], code=code).unchanged


def test_added_removed_or_ignored_file_forces_rebuild(published, code):
    raw, wh = published
    note = raw / str(EX) / "lisez-moi.txt"
    note.write_text("note")
    assert not state.check_unchanged(raw, wh, [EX], code=code).unchanged
    note.unlink()
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged
    sorted((raw / str(EX) / "operateurs").iterdir())[-1].unlink()
    assert not state.check_unchanged(raw, wh, [EX], code=code).unchanged


def test_new_exercise_forces_rebuild(published, code):
    raw, wh = published
    (raw / "2018" / "operateurs").mkdir(parents=True)
    assert not state.check_unchanged(raw, wh, code=code).unchanged


@pytest.mark.parametrize("rel", [
    "seeds/bilan_publie_synthese.csv", "seeds/thematiques.csv", "dbt_project.yml",
    "models/marts/fct_synthese_thematiques.sql", "macros/generate_schema_name.sql",
])
def test_dbt_project_change_forces_rebuild(published, code, tmp_path, rel):
    raw, wh = published
    dbt = tmp_path / "dbt"
    shutil.copytree(ROOT / "dbt", dbt, ignore=shutil.ignore_patterns("target", "logs"))
    same = state.code_digest(dbt_dir=dbt)
    assert same == code
    with (dbt / rel).open("a", encoding="utf-8") as fh:
        fh.write("\n")
    changed = state.code_digest(dbt_dir=dbt)
    assert changed != code
    assert not state.check_unchanged(raw, wh, [EX], code=changed).unchanged


def test_python_code_change_forces_rebuild(tmp_path, code):
    pkg = tmp_path / "dagster_project"
    shutil.copytree(ROOT / "dagster_project", pkg,
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert state.code_digest(package_dir=pkg) == code
    with (pkg / "parsing" / "normalize.py").open("a", encoding="utf-8") as fh:
        fh.write("\n# changed\n")
    assert state.code_digest(package_dir=pkg) != code


def test_marts_replaced_or_deleted_forces_rebuild(published, code):
    raw, wh = published
    marts = wh / "marts.duckdb"
    time.sleep(0.01)
    marts.write_bytes(b"other")
    assert not state.check_unchanged(raw, wh, [EX], code=code).unchanged
    marts.unlink()
    assert not state.check_unchanged(raw, wh, [EX], code=code).unchanged


def test_invalidated_or_partial_run_forces_rebuild(published, code):
    raw, wh = published
    state.invalidate(wh)
    assert not state.check_unchanged(raw, wh, [EX], code=code).unchanged
    # a publication whose run stored no digest (partial run) records nothing
    con = duckdb.connect(str(wh / "bilan.duckdb"))
    state.store_pending(con, "run-2", None, [EX], code)
    assert not state.record_publication(con, wh, "run-2", wh / "marts.duckdb")
    # nor does one of another run than the ingestion's
    state.store_pending(con, "run-3", "abc", [EX], code)
    assert not state.record_publication(con, wh, "run-4", wh / "marts.duckdb")
    con.close()
    assert not state.check_unchanged(raw, wh, [EX], code=code).unchanged


class _Run:
    def __init__(self, run_id: str, parent_run_id: str | None = None):
        self.run_id, self.parent_run_id = run_id, parent_run_id


def test_a_re_execution_records_its_ancestors_load_only_if_still_the_latest(published, code):
    """Re-executed from failure (UI), a run re-runs only the failed steps: its publication
    records the state of the load its parent (or an earlier ancestor) made, so the next night
    may skip; not when another run loaded since, nor when the code changed in between (the
    marts would be built by other models than the digest says)."""
    raw, wh = published
    runs = {"root": _Run("root"), "retry-1": _Run("retry-1", "root"),
            "retry-2": _Run("retry-2", "retry-1")}
    lineage = state.run_lineage(runs["retry-2"], runs.get)
    assert lineage == ["retry-2", "retry-1", "root"]
    assert state.run_lineage(_Run("x", "gone"), runs.get) == ["x", "gone"]  # parent deleted
    digest = json.loads(state.state_path(wh).read_text(encoding="utf-8"))["digest"]
    state.invalidate(wh)  # the failed root run's first step
    con = duckdb.connect(str(wh / "bilan.duckdb"))
    try:
        state.store_pending(con, "root", digest, [EX], code)
        assert state.pending_digest(con, "root", code) == digest
        assert state.pending_digest(con, lineage, code="edited model") is None
        assert state.pending_digest(con, ["retry-2", "retry-1"], code) is None  # not the loader
        assert state.record_publication(con, wh, lineage, wh / "marts.duckdb")
        assert state.record_reports(wh, lineage)
        recorded = json.loads(state.state_path(wh).read_text(encoding="utf-8"))
        assert recorded["run_id"] == recorded["rapports_run_id"] == "retry-2"
        assert state.check_unchanged(raw, wh, [EX], code=code).unchanged
        # another run loaded after the root run: its re-execution vouches for nothing
        state.invalidate(wh)
        state.store_pending(con, "other", None, [EX], code)  # e.g. one exercise re-run alone
        assert not state.record_publication(con, wh, lineage, wh / "marts.duckdb")
        assert not state.state_path(wh).exists()
        # nor after a load that began and died half-way (exercises commit one by one: part of
        # its files are in the warehouse, no digest says which); a cold review's reproduction
        state.store_pending(con, "root", digest, [EX], code)
        state.begin_load(con, "killed", [EX])
        assert state.interrupted_load(con) == "killed"
        assert state.pending_digest(con, lineage, code) is None
        assert not state.record_publication(con, wh, lineage, wh / "marts.duckdb")
        state.store_pending(con, "next", digest, [EX], code)  # the next load finishes
        assert state.interrupted_load(con) is None
    finally:
        con.close()


def test_the_published_runs_warnings_are_kept_for_the_unchanged_runs(published, code):
    """What the reports step records: the run's failed checks, or None when they could not be
    read, which an unchanged run must not repeat as 'no warning'."""
    raw, wh = published
    verdict = state.check_unchanged(raw, wh, [EX], code=code)
    assert verdict.warnings == ()
    # said with its zone (the run's log lines are UTC; a local time without one misled)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", verdict.published_at)
    line = "  check raw/raw_mandats:paiements_comptes (WARN) a échoué : 2 paiement(s) refusé(s)"
    assert state.record_reports(wh, "run-1", [line])
    assert state.check_unchanged(raw, wh, [EX], code=code).warnings == (line,)
    assert state.record_reports(wh, "run-1", None)
    verdict = state.check_unchanged(raw, wh, [EX], code=code)
    assert verdict.unchanged and verdict.warnings is None


def test_a_warehouse_of_the_previous_version_vouches_for_nothing(published, code):
    """meta.etat_ingestion written before the code digest was stored: no state recorded from it
    (the next run rebuilds), and the next load recreates the table."""
    raw, wh = published
    con = duckdb.connect(str(wh / "bilan.duckdb"))
    try:
        con.execute("DROP TABLE meta.etat_ingestion")
        con.execute("CREATE TABLE meta.etat_ingestion (run_id VARCHAR, digest VARCHAR, "
                    "exercices VARCHAR, computed_at TIMESTAMP)")
        con.execute("INSERT INTO meta.etat_ingestion VALUES ('run-1', 'abc', '2017', now())")
        assert state.pending_digest(con, "run-1", code) is None
        assert not state.record_publication(con, wh, "run-1", wh / "marts.duckdb")
        state.store_pending(con, "run-2", "def", [EX], code)
        assert state.pending_digest(con, "run-2", code) == "def"
    finally:
        con.close()


def test_a_run_killed_before_its_reports_forces_rebuild(tmp_path, code):
    """Killed between its publication and its reports (kill -9 of bilan run), a run left a state
    whose digest matches: skipping against it kept stale reports and the dead run STARTED in the
    instance (the queue blocked for hours). Only the reports' step completes the state."""
    raw = tmp_path / "raw"
    shutil.copytree(ROOT / "data" / "raw" / str(EX), raw / str(EX))
    wh = tmp_path / "wh"
    _publish_fake(raw, wh, code)
    stored = json.loads(state.state_path(wh).read_text(encoding="utf-8"))
    stored["rapports_run_id"] = None  # as the publication writes it
    state.state_path(wh).write_text(json.dumps(stored), encoding="utf-8")
    v = state.check_unchanged(raw, wh, [EX], code=code)
    assert not v.unchanged and "rapports" in v.reason
    assert not state.record_reports(wh, "run-other")  # another run's reports complete nothing
    assert not state.check_unchanged(raw, wh, [EX], code=code).unchanged
    assert state.record_reports(wh, "run-1")
    assert state.check_unchanged(raw, wh, [EX], code=code).unchanged


def test_digest_matches_the_loaders_inputs_digest(tmp_path, code):
    # what the ingestion stores (the loader's input digests) is what the check computes from
    # the publication's record, with a duplicated convention and a non-report file
    raw, wh = tmp_path / "raw", tmp_path / "wh"
    shutil.copytree(ROOT / "data" / "raw" / str(EX), raw / str(EX))
    (raw / str(EX) / "note.txt").write_text("ignored, but part of the inputs")
    _older_copy(raw)
    stored = _publish_fake(raw, wh, code)
    known = {sf: tuple(v) for sf, v in
             json.loads(state.state_path(wh).read_text(encoding="utf-8"))["files"].items()}
    assert state.state_digest(state.inputs_by_exercice(raw, known)[0], code) == stored
    # without the workbooks' conventions, the check cannot name the winner of the duplicated
    # convention: a different digest (a rebuild, never a wrong skip)
    assert state.state_digest(state.inputs_by_exercice(raw)[0], code) != stored


# --------------------------------------------------------------------------- real runs


def dagster_launched(raw: Path, wh: Path, home: Path, run: str, *, timeout: float = 600) -> str:
    """``bilan_nightly`` launched the Dagster way (not through `bilan run` and its own state
    check), in a subprocess on the copy's instance: ``run`` is the Python that starts it from
    ``job`` and ``inst`` and prints what the test reads; returns stdout."""
    script = (
        "import dagster as dg\n"
        "from dagster_project.definitions import defs\n"
        "from dagster_project.partitions import all_partitions_tags\n"
        "inst = dg.DagsterInstance.get()\n"
        "job = defs.resolve_job_def('bilan_nightly')\n" + run
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, env=pipeline_env(raw, wh, home), timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_dagster_launched_unchanged_run_skips_downstream(run_2017, tmp_path):
    """Without the CLI guard (a run launched by Dagster: schedule, sensor, UI), the ingestion asset
    sees the unchanged state, materializes nothing, and dbt, checks and publication are skipped."""
    raw, wh, home = copy_run(run_2017, tmp_path)
    out = dagster_launched(raw, wh, home, (
        "res = job.execute_in_process(instance=inst, tags=all_partitions_tags(inst),"
        " raise_on_error=False)\n"
        "skipped = {e.step_key for e in res.all_events if e.event_type_value == 'STEP_SKIPPED'}\n"
        "done = {e.step_key for e in res.all_events if e.event_type_value == 'STEP_SUCCESS'}\n"
        "print('SUCCESS', res.success)\n"
        "print('SKIPPED', sorted(skipped))\n"
        "print('DONE', sorted(done))\n"
    ), timeout=300)
    assert "SUCCESS True" in out
    assert "bilan_dbt_assets" in out.split("SKIPPED")[1].split("\n")[0]
    assert "analystes__marts_publies" in out.split("SKIPPED")[1].split("\n")[0]
    assert out.split("DONE")[1].split("\n")[0].strip() == "['raw_tables']"


def test_the_schedule_launches_no_run_when_nothing_changed(run_2017, tmp_path, monkeypatch):
    """A night with nothing changed since the publication: the tick is skipped, saying why (a run
    would load the code location and plan its ~130 checks to skip them: about 8 s of a 40 s cold
    run, measured by the bench through the Dagster path). A changed workbook: one run again."""
    import dagster as dg

    from dagster_project.schedules.nightly import nightly_schedule

    raw, wh, home = copy_run(run_2017, tmp_path)
    monkeypatch.setenv("BILAN_RAW_DIR", str(raw))
    monkeypatch.setenv("BILAN_WAREHOUSE_DIR", str(wh))
    tick = datetime(2027, 1, 5, 2, tzinfo=ZoneInfo("Europe/Paris"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        def evaluate():
            with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as c:
                return nightly_schedule.evaluate_tick(c)

        published = json.loads(state.state_path(wh).read_text(encoding="utf-8"))["run_id"]
        data = evaluate()
        assert not data.run_requests
        assert data.skip_message.startswith(
            f"rien n'a changé depuis la publication du run {published}"), data.skip_message
        workbook = next((raw / "2017" / "operateurs").glob("*.xlsx"))
        workbook.write_bytes(workbook.read_bytes() + b"\0")  # other bytes: another sha256
        data = evaluate()
        assert data.skip_message is None and len(data.run_requests) == 1


def test_the_cli_module_does_not_import_dagster():
    """`bilan run` with nothing changed returns in about a second, without Dagster: its module
    must not import Dagster (≈ 1.5 s on this machine) before it knows a run is needed. A tag
    name imported from a module that imported Dagster did so once (caught in review)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, dagster_project.cli, dagster_project.state; "
         "print(sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.')))"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout


@pytest.mark.slow
def test_unchanged_runs_skip_a_changed_workbook_or_removed_folder_rebuilds(run_2017, tmp_path):
    """Nights on a copy of the session's 2017 run, with real `bilan run`s:

    1. nothing changed: the run skips everything and shows the published synthesis;
    2. an exercise folder that goes away leaves its partition in Dagster (nothing removes it): a
       run of another exercise alone records no state (the warehouse still holds the removed
       one);
    3. the next full run, one workbook changed meanwhile, rebuilds: it re-parses that workbook
       only, empties the removed exercise and records a state over the folders left;
    4. so the next run skips again.
    (One rebuild for the changed workbook and the removed folder, a full run less: the rebuild
    here follows the run of 2017 alone, which recorded no state; that a changed file alone
    forces one is proven on the state itself by the fast tests above, whose verdict is the one
    the CLI follows to skip in step 1.)"""
    raw, wh, home = copy_run(run_2017, tmp_path)
    assert (wh / state.STATE_FILE).exists()
    marts_before = (wh / "marts.duckdb").stat().st_mtime_ns
    t0 = time.perf_counter()
    again = run_pipeline(raw, wh, home)
    elapsed = time.perf_counter() - t0
    assert again.returncode == 0, again.stderr
    assert "rien n'a changé" in again.stdout
    assert "Synthèse publiée" in again.stdout and "PRO-EMP-AME" in again.stdout
    assert (wh / "marts.duckdb").stat().st_mtime_ns == marts_before  # not republished
    assert elapsed < 15

    (raw / "2018").mkdir()
    (raw / "2018" / "lisez-moi.txt").write_text("dossier créé par erreur\n")
    # the folder's partition added and its file loaded (ignored: not a workbook), as a run
    # over every exercise loads them (its ingestion only: what dbt and the publication would
    # make of it is not what this test is about, and the runs below rebuild everything)
    loaded = dagster_launched(raw, wh, home, (
        "from dagster_project.assets.ingestion import raw_tables\n"
        "from dagster_project.partitions import sync_partitions\n"
        "sync_partitions(inst, [2017, 2018])\n"
        "res = job.execute_in_process(instance=inst, tags=all_partitions_tags(inst),"
        " asset_selection=list(raw_tables.keys), raise_on_error=False)\n"
        "print('SUCCESS', res.success)\n"
    ))
    assert "SUCCESS True" in loaded
    con = duckdb.connect(str(wh / "bilan.duckdb"), read_only=True)
    held = con.execute("SELECT count(*) FROM raw.manifest WHERE exercice = 2018").fetchone()[0]
    con.close()
    assert held == 1
    shutil.rmtree(raw / "2018")
    # one exercise re-run alone (README): 2018's rows stay, so no state is recorded
    alone = dagster_launched(raw, wh, home, (
        "res = job.execute_in_process(partition_key='2017', instance=inst,"
        " tags={'bilan/force': '1'}, raise_on_error=False)\n"
        "print('SUCCESS', res.success)\n"
    ))
    assert "SUCCESS True" in alone
    assert not (wh / state.STATE_FILE).exists()
    marts_alone = (wh / "marts.duckdb").stat().st_mtime_ns

    # one raw file changes (same cells, re-zipped)
    f = sorted((raw / "2017" / "operateurs").glob("*.xlsx"))[0]
    import zipfile
    tmp = f.with_suffix(".tmp")
    with zipfile.ZipFile(f) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED,
                                                    compresslevel=1) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, src.read(item.filename))
    os.replace(tmp, f)
    rebuilt = run_pipeline(raw, wh, home)  # partition 2018 still known: the run covers it
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert "rien n'a changé" not in rebuilt.stdout
    assert "exercice 2018 retiré de l'entrepôt : plus de dossier 2018/" in rebuilt.stdout
    assert (wh / "marts.duckdb").stat().st_mtime_ns not in (marts_before, marts_alone)
    con = duckdb.connect(str(wh / "bilan.duckdb"), read_only=True)
    left = con.execute("SELECT count(*) FROM raw.manifest WHERE exercice = 2018").fetchone()[0]
    reloaded = con.execute(
        "SELECT file_name FROM raw.manifest WHERE run_id = "
        "(SELECT run_id FROM raw.manifest ORDER BY loaded_at DESC LIMIT 1)").fetchall()
    con.close()
    assert left == 0  # its rows went with the folder
    assert reloaded == [(f.name,)]  # that workbook only
    assert (wh / state.STATE_FILE).exists()
    again = run_pipeline(raw, wh, home)
    assert again.returncode == 0 and "rien n'a changé" in again.stdout, again.stdout[-2000:]
    # as the ingestion asset asks it for a run over every partition (schedule, sensor)
    assert state.check_unchanged(raw, wh, [2017, 2018]).unchanged
    assert not state.check_unchanged(raw, wh, [2018]).unchanged  # 2017 is not in that run


def _bilan_run(raw: Path, wh: Path, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dagster_project.cli", "run"], cwd=ROOT,
                          capture_output=True, text=True, env=pipeline_env(raw, wh, home),
                          timeout=300)


def test_what_is_not_an_exercise_folder_is_named_not_passed_over(run_2017, tmp_path):
    """A folder 'Exercice 2021' or a workbook at the raw folder's root is not loaded (the
    contract names <exercice>/operateurs and /finances) and was passed over in silence: 'rien
    n'a changé'. It is named; hidden files are not."""
    raw, wh, _ = copy_run(run_2017, tmp_path)
    (raw / "Exercice 2021" / "operateurs").mkdir(parents=True)
    (raw / "oubli.xlsx").write_bytes(b"PK")
    (raw / ".DS_Store").write_bytes(b"\0")
    proc = _bilan_run(raw, wh, tmp_path / "home")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (f"ignoré(s) sous {raw}, pas des dossiers d'exercice (AAAA/) : Exercice 2021/, "
            "oubli.xlsx\n") in proc.stderr, proc.stderr
    assert "rien n'a changé" in proc.stdout  # what is loaded did not change


def test_a_raw_folder_that_does_not_exist_is_said_so(tmp_path):
    proc = _bilan_run(tmp_path / "nope", tmp_path / "wh", tmp_path / "home")
    assert proc.returncode == 2
    assert f"dossier des fichiers bruts introuvable : {tmp_path / 'nope'}" in proc.stderr
