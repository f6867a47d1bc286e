"""The nightly schedule: 02:00 Europe/Paris, exactly once a day across both DST changes.

Ticks come from ``schedule_execution_time_iterator``, the function the Dagster daemon itself uses
to compute a schedule's ticks (``RemoteSchedule.execution_time_iterator`` delegates to it), fed
with the schedule definition's own cron string and execution timezone; each tick is then
evaluated with ``build_schedule_context`` as the daemon would.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._utils.schedules import schedule_execution_time_iterator

from dagster_project.partitions import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.schedules.nightly import nightly_schedule
from tests.orchestration_support import project_instance

PARIS = ZoneInfo("Europe/Paris")
UTC = ZoneInfo("UTC")


def ticks_between(start: str, end: str) -> list[datetime]:
    lo = datetime.fromisoformat(start).replace(tzinfo=PARIS)
    hi = datetime.fromisoformat(end).replace(tzinfo=PARIS)
    out = []
    for tick in schedule_execution_time_iterator(
        lo.timestamp(), nightly_schedule.cron_schedule, nightly_schedule.execution_timezone
    ):
        if tick >= hi:
            break
        out.append(tick)
    return out


def test_schedule_is_0200_paris():
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "Europe/Paris"
    assert nightly_schedule.job_name == "bilan_nightly"


@pytest.mark.parametrize(
    ("start", "end", "dst_day", "dst_tick_utc"),
    [
        # spring forward: 02:00 does not exist on 2027-03-28; the tick comes at 03:00 CEST
        ("2027-03-27", "2027-03-30", "2027-03-28", "2027-03-28T01:00:00+00:00"),
        # fall back: 02:00 happens twice on 2027-10-31; one tick, at the second (02:00 CET)
        ("2027-10-30", "2027-11-02", "2027-10-31", "2027-10-31T01:00:00+00:00"),
    ],
)
def test_exactly_one_tick_per_day_across_dst(start, end, dst_day, dst_tick_utc):
    ticks = ticks_between(start, end)
    days = Counter(t.astimezone(PARIS).date().isoformat() for t in ticks)
    first = datetime.fromisoformat(start).date()
    expected_days = [(first + timedelta(days=i)).isoformat() for i in range(3)]
    assert sorted(days) == expected_days, ticks
    assert set(days.values()) == {1}, f"not one tick a day: {days}"
    for t in ticks:
        local = t.astimezone(PARIS)
        day = local.date().isoformat()
        if day == dst_day:
            assert t.astimezone(UTC) == datetime.fromisoformat(dst_tick_utc)
        else:
            assert (local.hour, local.minute) == (2, 0), t
    # consecutive ticks: 23 h across the spring change, 25 h across the autumn one, else 24 h
    gaps = {round((b - a).total_seconds() / 3600) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert gaps <= {23, 24, 25}


def test_each_tick_requests_one_run_covering_every_exercise(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    for ex in ("2017", "2019"):
        (raw / ex / "operateurs").mkdir(parents=True)
    monkeypatch.setenv("BILAN_RAW_DIR", str(raw))
    monkeypatch.setenv("BILAN_WAREHOUSE_DIR", str(tmp_path / "warehouse"))  # nothing published
    ticks = ticks_between("2027-03-27", "2027-03-30") + ticks_between("2027-10-30", "2027-11-02")
    with project_instance(tmp_path / "home") as instance:
        keys = set()
        for tick in ticks:
            # a context entered and left: it would leave the instance it opens as the thread's
            # current one (its state storage), for every later test of this process
            with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as ctx:
                data = nightly_schedule.evaluate_tick(ctx)
            assert data.skip_message is None
            assert len(data.run_requests) == 1
            req = data.run_requests[0]
            assert req.tags[RANGE_START_TAG] == "2017" and req.tags[RANGE_END_TAG] == "2019"
            assert req.tags["bilan/trigger"] == "schedule"
            keys.add(req.run_key)
        assert len(keys) == len(ticks) == 6  # one distinct run key per tick, DST days included
        # the folders found were registered as partitions (never hard-coded)
        assert instance.get_dynamic_partitions("exercice") == ["2017", "2019"]


def test_tick_without_exercise_folder_skips(tmp_path, monkeypatch):
    monkeypatch.setenv("BILAN_RAW_DIR", str(tmp_path / "empty"))
    with project_instance(tmp_path / "home") as instance:
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2027, 1, 4, 2, tzinfo=PARIS)
        ) as ctx:
            data = nightly_schedule.evaluate_tick(ctx)
        assert not data.run_requests and "aucun dossier d'exercice" in data.skip_message
