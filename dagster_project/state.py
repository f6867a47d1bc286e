"""State digest: skip dbt, checks and publication when nothing that shapes the marts changed.

Why this module exists: the nightly job is mostly re-run on an unchanged drop, and a full run
(dbt build, Great Expectations, publication) costs tens of seconds to minutes for a result that is
byte-for-byte the one already published. The marts are a pure function of

* the raw files (every file under ``<raw>/<AAAA>/``: name and sha256, as the loader sees them,
  which workbook counts for a convention that has several: the newest, by mtime, and with
  several finance exports their order, by mtime: the newest counts a mandate number they
  share),
* the dbt project (models, macros, seeds, tests, dbt_project.yml, profiles.yml),
* the pipeline's own code (every ``dagster_project/**/*.py``: parsing rules, checks, publication),
* the versions of the libraries that compute them (dbt, DuckDB, GX, calamine, Dagster…),

so their sha256 together, the *state digest*, identifies the published result.

Protocol (all writes happen under the warehouse writer lock):

1. every run that will touch the warehouse first calls :func:`invalidate` (deletes the state file):
   a run that then fails half-way can never be mistaken for a published state;
2. the ingestion asset records that a load begins (:func:`begin_load`, table
   ``meta.etat_ingestion`` of bilan.duckdb), and, after loading *every* exercise found, the
   digest of what it loaded for its run, and the code digest it used (:func:`store_pending`);
3. the publication asset, once ``marts.duckdb`` is replaced, writes the state file
   (:func:`record_publication`): digest of *its own run's* ingestion (or, for a re-execution
   from failure, of its parent run's, :func:`run_lineage`, provided no other load came between
   and the code is the same), marts.duckdb's size and
   mtime, and the (size, mtime, sha256) of every raw file (a cache so the next check hashes only
   files whose size or mtime changed, as git and the loader do), with each workbook's convention
   as the loader read it (so the check knows which workbook now counts where there is a choice);
4. the report asset, the run's last step, marks that state complete once the deliverables are
   written (:func:`record_reports`): a run killed between the publication and its reports (a
   ``kill -9`` of ``bilan run``) leaves a state no run may skip against, so the next one rebuilds
   the reports and closes the dead run in the Dagster instance;
5. :func:`check_unchanged` says "unchanged" only when the state file exists and is complete, its
   digest equals the digest computed now, and bilan.duckdb and marts.duckdb exist with the
   recorded size and mtime.

A run tagged :data:`FORCE_TAG` skips the check (``bilan run --force``). Anything else
(changed/added/removed raw file, seed, model, macro, Python code, library version,
marts.duckdb deleted or replaced, last run failed, partial run) means a full run. The check
imports neither Dagster nor DuckDB: ``bilan run`` answers in well under a second when nothing
changed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from dagster_project import settings
from dagster_project.ingestion.discovery import (
    KIND_FINANCES,
    KIND_OPERATEUR,
    contested_winners,
    convention_candidate,
    digest_lines,
    discover_exercices,
    discover_files,
    exports_precedence,
    hash_files,
    inputs_digest,
    is_export,
    newest_per_convention,
)

STATE_FILE = "etat_publication.json"
# A run tagged so never skips (``bilan run --force``; in the UI: Launchpad, tag bilan/force=1).
FORCE_TAG = "bilan/force"
STATE_VERSION = 2  # 2: each workbook's convention, for the winners (inputs_digest)
DBT_WATCHED = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml",
               "models", "macros", "seeds", "tests", "snapshots", "analyses")
DISTRIBUTIONS = ("dagster", "dagster-dbt", "dbt-core", "dbt-duckdb", "duckdb",
                 "great-expectations", "python-calamine", "pandas", "pyarrow")
PACKAGE_DIR = Path(__file__).resolve().parent




def _files_under(root: Path, names: Iterable[str], suffix: str | None = None) -> list[Path]:
    out: list[Path] = []
    for name in names:
        p = root / name
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out += [
                f for f in p.rglob("*")
                if f.is_file() and "__pycache__" not in f.parts
                and (suffix is None or f.suffix == suffix)
            ]
    return sorted(out)


def code_digest(
    dbt_dir: Path | None = None, package_dir: Path | None = None
) -> str:
    """sha256 of the dbt project files, the pipeline's Python code and the libraries' versions."""
    dbt_dir = Path(dbt_dir or settings.DBT_PROJECT_DIR)
    package_dir = Path(package_dir or PACKAGE_DIR)
    lines = []
    for base, files in (
        ("dbt", _files_under(dbt_dir, DBT_WATCHED)),
        ("code", _files_under(package_dir, ["."], ".py")),
    ):
        root = dbt_dir if base == "dbt" else package_dir
        for f in files:
            lines.append(f"{base}:{f.relative_to(root).as_posix()}:"
                         f"{hashlib.sha256(f.read_bytes()).hexdigest()}")
    for dist in DISTRIBUTIONS:
        try:
            lines.append(f"lib:{dist}:{metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            lines.append(f"lib:{dist}:absent")
    return digest_lines(lines)


def state_digest(inputs_by_exercice: Mapping[int, str], code: str | None = None) -> str:
    """The state digest from each exercise's inputs digest (the loader's ``input_sha256``)."""
    code = code if code is not None else code_digest()
    return digest_lines([f"code:{code}", *(f"{ex}:{d}" for ex, d in inputs_by_exercice.items())])


def inputs_by_exercice(
    raw_dir: Path, known: Mapping[str, tuple] | None = None
) -> tuple[dict[int, str], dict[str, tuple[int, int, str]]]:
    """Per exercise, the digest the loader would compute now; (size, mtime_ns, sha256) per file.

    ``known``: source_file → (size_bytes, mtime_ns, sha256[, num_convention]) as recorded at the
    last publication. A workbook whose bytes are unchanged keeps its recorded convention, so the
    digest names the workbook that now counts for each convention with several (the newest:
    touching an older one changes it). A new or changed workbook's convention is unknown here;
    its own name and sha256 line already differs from the recorded digest."""
    known = known or {}
    per_ex: dict[int, str] = {}
    cache: dict[str, tuple[int, int, str]] = {}
    for ex in discover_exercices(raw_dir):
        files = discover_files(raw_dir, ex)
        hashes = hash_files(files, known)
        workbooks = []
        for f in files:
            if f.kind != KIND_OPERATEUR:
                continue
            rec = known.get(f.source_file) or ()
            same = len(rec) > 3 and rec[2] == hashes[f.source_file]
            workbooks.append((f.source_file, f.mtime_ns, rec[3] if same else None))
        exports = [(f.source_file, f.mtime_ns) for f in files if f.kind == KIND_FINANCES]
        per_ex[ex] = inputs_digest(hashes, workbooks, exports)
        for f in files:
            cache[f.source_file] = (f.size_bytes, f.mtime_ns, hashes[f.source_file])
    return per_ex, cache


def state_path(warehouse_dir: Path) -> Path:
    return Path(warehouse_dir) / STATE_FILE


def invalidate(warehouse_dir: Path) -> None:
    """Forget the published state: the next run cannot skip until a publication succeeds."""
    try:
        state_path(warehouse_dir).unlink()
    except FileNotFoundError:
        pass


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


# --------------------------------------------------------------------------- in the warehouse

# One row: the latest load, begun (termine false) or finished (with its digest, or NULL for a
# partial load, never publishable as-is). Recreated by every load: its columns follow this
# module's version.
PENDING_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
DROP TABLE IF EXISTS meta.etat_ingestion;
CREATE TABLE meta.etat_ingestion (
    run_id VARCHAR, digest VARCHAR, code VARCHAR, exercices VARCHAR, computed_at TIMESTAMP,
    termine BOOLEAN
);
"""


def begin_load(con, run_id: str, exercices: Iterable[int]) -> None:
    """A load starts: whatever an earlier run loaded no longer describes the warehouse. The
    loader commits exercise by exercise, so a load that dies half-way leaves a warehouse that no
    digest describes; until a load finishes, no publication vouches for it (the gate refuses:
    :func:`interrupted_load`) and no re-execution records an ancestor's digest."""
    _write_load_row(con, run_id, None, None, exercices, termine=False)


def store_pending(
    con, run_id: str, digest: str | None, exercices: Iterable[int], code: str
) -> None:
    """The load finished: record the digest of what this run loaded (None: a partial run, never
    publishable as-is) and the code digest it was computed with."""
    _write_load_row(con, run_id, digest, code, exercices, termine=True)


def _write_load_row(
    con, run_id: str, digest: str | None, code: str | None, exercices: Iterable[int],
    *, termine: bool,
) -> None:
    """The table recreated with the latest load's one row (its columns follow this module)."""
    con.execute(PENDING_DDL)
    con.execute(
        "INSERT INTO meta.etat_ingestion VALUES (?, ?, ?, ?, ?, ?)",
        [run_id, digest, code, ",".join(map(str, sorted(exercices))), datetime.now(), termine],
    )


def interrupted_load(con) -> str | None:
    """The run whose load began and never finished (the warehouse may hold part of it), or None.
    A warehouse of an earlier version (no such column) knows of none."""
    try:
        row = con.execute(
            "SELECT run_id FROM meta.etat_ingestion WHERE NOT termine"
        ).fetchone()
    except Exception:  # noqa: BLE001 - no table yet, or an earlier version's
        return None
    return row[0] if row else None


def _ids(run_ids: str | Sequence[str]) -> list[str]:
    """One run id or a lineage (never a string's characters)."""
    return [run_ids] if isinstance(run_ids, str) else list(run_ids)


def run_lineage(run, get_run) -> list[str]:
    """A Dagster run's id, then its parent's, and so on up to the root run (``get_run``: the
    instance's ``get_run_by_id``). A re-execution *from failure* (UI) runs only the failed steps
    and those after them: the ingestion, when it had succeeded, is one of its ancestors'."""
    ids = [run.run_id]
    while run is not None and run.parent_run_id and run.parent_run_id not in ids:
        ids.append(run.parent_run_id)
        run = get_run(run.parent_run_id)
    return ids


def pending_digest(
    con, run_ids: str | Sequence[str], code: str | None = None
) -> str | None:
    """The digest the latest ingestion stored, when it was one of ``run_ids`` (the publishing
    run, then its ancestors: :func:`run_lineage`) and the code has not changed since (``code``:
    now, by default :func:`code_digest`): a model edited before a re-execution builds marts that
    digest does not describe. None otherwise (publication re-run alone, another run's load
    since, a partial load, a warehouse of an earlier version)."""
    try:
        row = con.execute(
            "SELECT run_id, digest, code FROM meta.etat_ingestion WHERE termine"
        ).fetchone()
    except Exception:  # no table (yet), or an earlier version's: nothing to vouch for
        return None
    if row is None or row[1] is None or row[0] not in _ids(run_ids):
        return None
    return row[1] if row[2] == (code if code is not None else code_digest()) else None


def record_publication(
    con, warehouse_dir: Path, run_ids: str | Sequence[str], marts_path: Path
) -> bool:
    """After a successful publication by ``run_ids[0]`` (its ancestors follow, for a
    re-execution): write the state file, or remove it when no ingestion of these runs stored a
    digest that still holds (:func:`pending_digest`). Returns whether a state was recorded."""
    warehouse_dir = Path(warehouse_dir)
    run_ids = _ids(run_ids)
    run_id = run_ids[0]
    digest = pending_digest(con, run_ids)
    if digest is None:
        invalidate(warehouse_dir)
        return False
    # each workbook's convention as the loader chose the winners with it (an unreadable one's
    # from its file name: discovery.convention_candidate), so the check names the same winners
    files = {
        sf: [size, mtime_ns, sha,
             convention_candidate(conv, (detail or "") if status == "rejected" else None,
                                  name, ex)
             if kind == KIND_OPERATEUR else None]
        for sf, size, mtime_ns, sha, kind, conv, status, detail, name, ex in con.execute(
            "SELECT source_file, size_bytes, mtime_ns, sha256, kind, num_convention, status, "
            "detail, file_name, exercice FROM raw.manifest"
        ).fetchall()
    }
    state = {
        "version": STATE_VERSION,
        "digest": digest,
        "run_id": run_id,
        "published_at": datetime.now().astimezone().isoformat(timespec="seconds"),  # with its zone
        "marts": _stat(Path(marts_path)),
        "files": files,
        "rapports_run_id": None,  # set by record_reports, once this run's reports are written
    }
    _write_state(warehouse_dir, state)
    return True


def _read_state(warehouse_dir: Path) -> dict | None:
    """The state file's content; None when absent or unreadable."""
    try:
        return json.loads(state_path(warehouse_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_state(warehouse_dir: Path, state: dict) -> None:
    target = state_path(warehouse_dir)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, target)


def record_reports(
    warehouse_dir: Path, run_ids: str | Sequence[str], warnings: Sequence[str] | None = ()
) -> bool:
    """The reports of the publication recorded by one of ``run_ids`` (the run, then its
    ancestors: a re-execution of the reports alone completes its parent's publication) are
    written: the state is complete (step 4 above), under this run's id (the run the next check
    asks the instance about), with the run's ``warnings`` (its failed non-blocking checks, one
    line each; None: unknown, the checks could not be read), which an unchanged run repeats.
    Returns False when the state file is another run's or absent."""
    run_ids = _ids(run_ids)
    state = _read_state(warehouse_dir)
    if state is None or state.get("run_id") not in run_ids:
        return False
    state["run_id"] = state["rapports_run_id"] = run_ids[0]
    state["avertissements"] = None if warnings is None else list(warnings)
    _write_state(Path(warehouse_dir), state)
    return True


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Verdict:
    unchanged: bool
    reason: str
    digest: str | None = None
    run_id: str | None = None
    published_at: str | None = None
    # the published run's failed non-blocking checks; None: they could not be read
    warnings: tuple[str, ...] | None = ()


def check_unchanged(
    raw_dir: Path,
    warehouse_dir: Path,
    exercices: Iterable[int] | None = None,
    *,
    code: str | None = None,
) -> Verdict:
    """Is the published marts.duckdb exactly the result of the current raw files and code?"""
    warehouse_dir = Path(warehouse_dir)
    try:
        state = json.loads(state_path(warehouse_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Verdict(False, "aucune publication réussie enregistrée depuis le dernier run")
    except (OSError, ValueError):
        return Verdict(False, "état de publication illisible")
    if state.get("version") != STATE_VERSION:
        return Verdict(False, "état de publication d'une autre version")
    if state.get("rapports_run_id") != state.get("run_id"):
        return Verdict(False, "run publié interrompu avant ses rapports")
    marts = warehouse_dir / "marts.duckdb"
    if _stat(marts) is None or _stat(marts) != state.get("marts"):
        return Verdict(False, "marts.duckdb absent ou modifié depuis la publication")
    if not (warehouse_dir / "bilan.duckdb").exists():
        return Verdict(False, "entrepôt bilan.duckdb absent")
    known = {sf: tuple(v) for sf, v in (state.get("files") or {}).items()}
    per_ex, _ = inputs_by_exercice(Path(raw_dir), known)
    # the run must cover every exercise folder; it may cover more: partitions whose folder was
    # removed (their rows are gone since the run that emptied them), in no digest
    if exercices is not None and not set(per_ex) <= set(exercices):
        return Verdict(False, "un dossier d'exercice présent n'est pas dans ce run")
    digest = state_digest(per_ex, code)
    if digest != state.get("digest"):
        return Verdict(False, "fichiers bruts, projet dbt, code ou versions modifiés", digest)
    return Verdict(True, "inchangé depuis la dernière publication", digest,
                   state.get("run_id"), state.get("published_at"),
                   None if "avertissements" in state and state["avertissements"] is None
                   else tuple(state.get("avertissements") or ()))


def winner_changes(raw_dir: Path, warehouse_dir: Path) -> dict[str, str] | None:
    """Conventions whose counted workbook (the newest of several) is no longer the one counted
    at the last publication, although no file's bytes changed: an older workbook was touched
    (re-saved identical, copied back) and is now the newest. Likewise an exercise's finance
    exports whose order changed (:func:`exports_precedence`: the newest counts a mandate number
    found in two). The raw-drop sensor, which ignores touched files, starts a run for these.
    Returns num_convention → the workbook that now counts, and ``exports <exercice>`` → the
    exports in their new order (empty: nothing counts otherwise), or None when no publication
    is on record to compare with (a run going on, the last one failed, another state
    version)."""
    recorded = _read_state(warehouse_dir)
    if recorded is None or recorded.get("version") != STATE_VERSION:
        return None
    before, now = [], []
    exports_before: dict[str, list[tuple[str, int]]] = {}
    exports_now: dict[str, list[tuple[str, int]]] = {}
    for sf, (_, mtime_ns, _, conv) in (recorded.get("files") or {}).items():
        export = is_export(sf)
        if not conv and not export:
            continue
        st = _stat(Path(raw_dir) / sf)  # a removed file changes the contents: a run anyway
        if export:
            exercice = sf.split("/", 1)[0]
            exports_before.setdefault(exercice, []).append((sf, mtime_ns))
            if st is not None:
                exports_now.setdefault(exercice, []).append((sf, st[1]))
            continue
        before.append((sf, mtime_ns, conv))
        if st is not None:
            now.append((sf, st[1], conv))
    current = newest_per_convention(now)
    changes = {
        c: current[c]
        for c, sf in sorted(contested_winners(before).items())
        if c in current and current[c] != sf
    }
    for exercice, recorded_exports in sorted(exports_before.items()):
        order = exports_precedence(exports_now.get(exercice, ()))
        if len(order) == len(recorded_exports) > 1 and order != exports_precedence(
            recorded_exports
        ):
            changes[f"exports {exercice}"] = " > ".join(sf.rsplit("/", 1)[1] for sf in order)
    return changes
