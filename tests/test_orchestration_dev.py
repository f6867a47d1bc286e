"""``dagster dev -w workspace.yaml`` (what ``make dev`` runs) serves the asset graph and shuts down.

Started in its own process group with a temp DAGSTER_HOME (the committed template), an empty raw
dir (so the sensor launches nothing) and a free port on 127.0.0.1; the GraphQL endpoint is polled
until the code location has loaded, then the graph, its checks, the schedule and the sensors are
read back; SIGINT to the process group must stop everything within 30 s, leaving no process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

DAGSTER = Path(sys.executable).parent / "dagster"

QUERY = """
{
  assetNodes {
    assetKey { path }
    isPartitioned
    partitionDefinition { name }
    pools
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name blocking } }
    }
  }
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        location { name }
        jobs { name }
        schedules { name cronSchedule executionTimezone }
        sensors { name }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, timeout: float = 10) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def own_group_with_sigint() -> None:
    """In the child: a new session/process group, and SIGINT handled as in a terminal (a test
    run from a background shell inherits SIGINT ignored, and Ctrl-C would then do nothing)."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def group_processes(pgid: int) -> list[str]:
    """Live (non-zombie) processes still in the process group."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, split after the last ')'
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(text[: text.rindex(")") + 1])
    return alive


def test_dagster_dev_serves_partitioned_graph_with_checks_and_stops_cleanly(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster_home.template.yaml", home / "dagster.yaml")
    (tmp_path / "raw").mkdir()
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "BILAN_RAW_DIR": str(tmp_path / "raw"),
        "BILAN_WAREHOUSE_DIR": str(tmp_path / "warehouse"),
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "GX_ANALYTICS_ENABLED": "false",
    }
    env.pop("BILAN_ALERT_WEBHOOK", None)
    log = (tmp_path / "dagster_dev.log").open("w")
    proc = subprocess.Popen(
        [str(DAGSTER), "dev", "-w", "workspace.yaml", "-p", str(port), "--host", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=own_group_with_sigint,
    )
    pgid = proc.pid
    try:
        data, deadline, last_error = None, time.monotonic() + 180, None
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "dagster_dev.log").read_text()[-3000:]
            try:
                answer = graphql(port, QUERY)
                nodes = answer.get("data", {}).get("assetNodes") or []
                if nodes:
                    data = answer["data"]
                    break
                last_error = answer.get("errors")
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                last_error = exc
            time.sleep(1)
        assert data, f"no asset graph served: {last_error}\n" + (
            tmp_path / "dagster_dev.log").read_text()[-3000:]

        nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
        for key in ("raw/manifest", "marts/fct_synthese_thematiques", "analystes/marts_publies"):
            assert key in nodes, key
        assert nodes["raw/manifest"]["isPartitioned"]
        assert nodes["raw/manifest"]["partitionDefinition"]["name"] == "exercice"
        assert not nodes["marts/fct_synthese_thematiques"]["isPartitioned"]
        assert nodes["analystes/marts_publies"]["pools"] == ["warehouse_writer"]

        def checks(key):
            got = nodes[key]["assetChecksOrError"]
            assert got["__typename"] == "AssetChecks", got
            return {c["name"]: c["blocking"] for c in got["checks"]}

        assert checks("raw/manifest") == {"manifest_conservation": True, "fichiers_refuses": False,
                                          "feuilles_non_lues": False}
        synthese = checks("marts/fct_synthese_thematiques")
        assert synthese["gx_synthese_thematiques"] is True
        assert len(synthese) > 3  # dbt tests too
        all_checks = sum(len(checks(k)) for k in nodes if nodes[k]["assetChecksOrError"]
                         ["__typename"] == "AssetChecks")
        assert all_checks > 100

        repos = data["repositoriesOrError"]
        assert repos["__typename"] == "RepositoryConnection"
        (repo,) = [r for r in repos["nodes"] if r["location"]["name"] == "bilan_insertion"]
        assert "bilan_nightly" in {j["name"] for j in repo["jobs"]}
        assert repo["schedules"] == [{"name": "bilan_nightly_0200_paris",
                                      "cronSchedule": "0 2 * * *",
                                      "executionTimezone": "Europe/Paris"}]
        assert {s["name"] for s in repo["sensors"]} == {"raw_drop_sensor", "alerte_echec_run"}
    finally:
        if proc.poll() is None:
            os.killpg(pgid, signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
            stopped_in_time = True
        except subprocess.TimeoutExpired:
            stopped_in_time = False
            os.killpg(pgid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
    assert stopped_in_time, "dagster dev did not stop within 30 s of SIGINT"
    deadline = time.monotonic() + 10
    while group_processes(pgid) and time.monotonic() < deadline:
        time.sleep(0.5)
    leftover = group_processes(pgid)
    if leftover:
        os.killpg(pgid, signal.SIGKILL)
    assert not leftover, f"processes left behind: {leftover}"
    assert code is not None
