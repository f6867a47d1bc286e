"""Start one run per settled drop in the raw folder.

Operators and the finance system write files over minutes. The sensor waits until the folder's
cheap fingerprint (names, sizes, mtimes) has stopped changing for a quiet period
(``BILAN_SENSOR_QUIET_S``, default 60 s), then hashes the contents. A run is requested only when
the content digest differs from the one of the last requested run, so a burst of 220 files gives
one run, touching a file without changing it gives none, and a new, changed or removed file gives
exactly one. One touch does count: an older workbook of a convention touched so that it becomes
the newest, i.e. the one the bilan counts, or an older finance export touched so that it comes
first (the newest export counts a mandate number found in two)
(:func:`dagster_project.state.winner_changes`, from the last publication's record). A new
exercise folder adds its dynamic partition in the same evaluation
(``dynamic_partitions_requests``, applied by the daemon before the run is submitted) and the run's
partition range covers it.

State lives in the sensor cursor (JSON), set with ``context.update_cursor`` and returned with the
evaluation: ``fingerprint``/``since`` (what the folder looked like and since when),
``launched_fingerprint``/``launched_digest``/``launched_winners`` (the state of the last
requested run; the last: conventions whose newest workbook changed by a touch),
``touch_undecided`` (a touch seen while no publication was on record, e.g. during a run: judged
once one is) and ``seq``
(number of runs requested). The run key is ``drop-<seq>-<digest>``: unique per requested run, so
a folder that goes back to an earlier content (a file replaced, then restored) still gets its run,
and stable across a retried tick (same cursor, same key), so the daemon never launches it twice.
"""

import hashlib
import json
import os
import time

import dagster as dg

from dagster_project import settings, state
from dagster_project.ingestion.discovery import discover_exercices, discover_files, hash_files
from dagster_project.jobs import NIGHTLY_JOB
from dagster_project.partitions import EXERCICE_PARTITIONS, range_tags
from dagster_project.run_tags import TAG_TRIGGER

QUIET_ENV = "BILAN_SENSOR_QUIET_S"


def quiet_period_s() -> float:
    return float(os.environ.get(QUIET_ENV, "60"))


def folder_state(raw_dir) -> tuple[str, list]:
    files = [f for ex in discover_exercices(raw_dir) for f in discover_files(raw_dir, ex)]
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.source_file}\0{f.size_bytes}\0{f.mtime_ns}\n".encode())
    return h.hexdigest(), files


def content_digest(files) -> str:
    hashes = hash_files(files)
    h = hashlib.sha256()
    for sf in sorted(hashes):
        h.update(f"{sf}\0{hashes[sf]}\n".encode())
    return h.hexdigest()


@dg.sensor(
    name="raw_drop_sensor",
    job=NIGHTLY_JOB,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One run per settled drop (new, changed or removed files, or a touch that makes "
    "an older workbook of a convention its newest) in the raw folder; a new exercise folder "
    "becomes a partition.",
)
def raw_drop_sensor(context: dg.SensorEvaluationContext):
    raw_dir = settings.raw_dir()
    cursor = json.loads(context.cursor) if context.cursor else {}
    fingerprint, files = folder_state(raw_dir)
    now = time.time()
    if fingerprint != cursor.get("fingerprint"):
        cursor.update(fingerprint=fingerprint, since=now)
        context.update_cursor(json.dumps(cursor))
        return dg.SkipReason(
            f"le dossier brut a changé ({len(files)} fichiers) : attente de {quiet_period_s():g} s "
            "sans nouveau changement avant de lancer un run"
        )
    if now - cursor.get("since", now) < quiet_period_s():
        return dg.SkipReason("dépôt en cours : le délai de calme n'est pas écoulé")
    seen = cursor.get("launched_fingerprint") == fingerprint
    if seen and not cursor.get("touch_undecided"):
        return dg.SkipReason("aucun changement depuis le dernier run demandé")
    # a new fingerprint, or a touch seen while no publication was on record, to judge again
    digest = cursor["launched_digest"] if seen else content_digest(files)
    cursor["launched_fingerprint"] = fingerprint
    cursor.pop("touch_undecided", None)  # a run for new contents covers it; else set again below
    touched_winners: dict[str, str] | None = {}
    if digest == cursor.get("launched_digest"):
        # same bytes, but an older workbook of a convention may now be its newest, the one that
        # counts (the reporting kit's rule): that changes the marts, so it gets one run
        touched_winners = state.winner_changes(raw_dir, settings.warehouse_dir())
        if touched_winners is None:  # no publication on record (a run going on, or failed)
            cursor["touch_undecided"] = True
            context.update_cursor(json.dumps(cursor))
            return dg.SkipReason(
                "fichiers touchés, contenus inchangés : si le classeur le plus récent d'une "
                "convention a changé sera jugé une fois une publication enregistrée"
            )
        if not touched_winners or touched_winners == cursor.get("launched_winners"):
            context.update_cursor(json.dumps(cursor))
            return dg.SkipReason("fichiers touchés, contenus inchangés : pas de run")

    known = context.instance.get_dynamic_partitions(EXERCICE_PARTITIONS.name)
    new = [str(e) for e in discover_exercices(raw_dir) if str(e) not in known]
    keys = list(known) + new
    if not keys:
        context.update_cursor(json.dumps(cursor))
        return dg.SkipReason(f"aucun dossier d'exercice (AAAA/) sous {raw_dir}")

    seq = int(cursor.get("seq", 0)) + 1
    cursor.update(launched_digest=digest, launched_winners=touched_winners, seq=seq)
    context.update_cursor(json.dumps(cursor))  # carried by the SensorResult below
    context.log.info(
        f"dépôt stabilisé : {len(files)} fichiers, empreinte {digest[:12]}, exercices "
        f"{', '.join(keys)}"
        + (f" (nouveaux : {', '.join(new)})" if new else "")
        + _touched_phrase(touched_winners)
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"drop-{seq}-{digest[:16]}",
                tags={
                    **range_tags(keys),
                    TAG_TRIGGER: "raw_drop_sensor",
                    "bilan/drop_digest": digest,
                },
            )
        ],
        dynamic_partitions_requests=(
            [EXERCICE_PARTITIONS.build_add_request(new)] if new else []
        ),
    )


def _touched_phrase(touched: dict[str, str] | None) -> str:
    """What a touch changed, for the log: the conventions whose newest workbook is another one,
    the exercises whose finance exports come in another order (:func:`state.winner_changes`)."""
    if not touched:
        return ""
    conventions = {k: v for k, v in touched.items() if not k.startswith("exports ")}
    exports = {k.removeprefix("exports "): v for k, v in touched.items()
               if k.startswith("exports ")}
    parts = []
    if conventions:
        parts.append("un autre classeur est désormais le plus récent pour "
                     + ", ".join(f"{c} ({sf})" for c, sf in conventions.items()))
    if exports:
        parts.append("les exports financiers comptent désormais dans un autre ordre (le plus "
                     "récent d'abord) pour "
                     + ", ".join(f"{ex} ({order})" for ex, order in exports.items()))
    return " ; mêmes contenus, mais " + " ; ".join(parts)
