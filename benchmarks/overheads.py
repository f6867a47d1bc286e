"""The fixed overheads issue 7 names, each measured before (the default) and after (this project).

    python benchmarks/overheads.py [--json FILE]

Why: a nightly run of a ~220-workbook exercise does seconds of real work; what made it last
minutes was fixed cost around that work. Each overhead is measured the same way both sides, in a
fresh interpreter (no import cache shared between measures), on this machine:

* ``executor_per_step``: Dagster's default executor (multiprocess) starts one process per step,
  which imports the code location (``dagster_project.definitions``) again. Measured on a job of
  three chained trivial steps in that code location, multiprocess vs in-process executor (the
  nightly job's, ``jobs.py``), on a real instance in a temporary ``DAGSTER_HOME``; reported per
  step.
* ``dbt_version_probe``: dagster-dbt runs ``dbt --version`` in a subprocess before each
  invocation; ``assets/dbt.py:skip_version_probe`` takes the version from the dbt-core already
  imported. Measured: the resource's version lookup, default vs with the skip.
* ``bytecode``: importing the code location (``dagster_project.definitions``: Dagster, dagster-dbt,
  dbt, DuckDB, the project) from an environment without byte-compiled files (every module compiled
  at import: ``PYTHONPYCACHEPREFIX`` pointed at an empty directory) vs with them (``pip install
  --compile`` for the packages, ``compileall`` of the project in the Makefile).
* ``gx_import``: ``import great_expectations`` imported with the code location vs lazily, only by
  the GX checks (a skipped run never pays it). Measured: the code location's import with GX
  imported next to it vs alone (asserting GX is not imported by it).

Prints a table; ``--json`` writes the figures (bench.py calls it and keeps them in its results).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_JOB_MODULE = '''
"""Three chained trivial steps in the project's code location (loaded by every step process)."""
import dagster as dg

import dagster_project.definitions  # noqa: F401  (what a step process loads)


@dg.op
def first() -> int:
    return 1


@dg.op
def then(x: int) -> int:
    return x + 1


@dg.job(executor_def=dg.multiprocess_executor)
def multiprocess():
    then.alias("third")(then.alias("second")(first()))


@dg.job(executor_def=dg.in_process_executor)
def in_process():
    then.alias("third")(then.alias("second")(first()))
'''

_RUN_JOB = """
import sys, time
import dagster as dg
import overheads_job as m
instance = dg.DagsterInstance.get()
job = getattr(m, {name!r})
t = time.perf_counter()
with dg.execute_job(dg.reconstructable(job), instance=instance) as result:
    assert result.success
print(time.perf_counter() - t)
"""

_DBT_VERSION = """
import sys, time
from dagster_dbt import DbtCliResource
from dagster_project.assets.dbt import skip_version_probe
dbt = DbtCliResource(project_dir={project!r}, profiles_dir={project!r},
                     dbt_executable={exe!r})
t = time.perf_counter()
if {skip}:
    assert skip_version_probe(dbt)
dbt._cli_version
print(time.perf_counter() - t)
"""

_IMPORT = """
import sys, time
t = time.perf_counter()
import dagster_project.definitions
{extra}
elapsed = time.perf_counter() - t
assert {gx_expected} == ("great_expectations" in sys.modules)
print(elapsed)
"""


def _env(**extra: str) -> dict[str, str]:
    from bench import env_for  # one definition of the measured processes' environment

    return env_for(**extra)


def _seconds(code: str, env: dict[str, str], cwd: Path = ROOT) -> float:
    """Run ``code`` in a fresh interpreter; the float it prints last."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"overhead measure failed:\n{out.stderr[-3000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def _best(n: int, measure) -> float:
    return min(measure() for _ in range(n))


def measure_all(repeat: int = 2) -> dict[str, dict[str, float]]:
    res: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bilan-overheads-") as tmp:
        tmp = Path(tmp)
        (tmp / "overheads_job.py").write_text(_JOB_MODULE)
        home = tmp / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text((ROOT / "dagster_home.template.yaml").read_text())
        # the step processes import the job's module too: it must be on their path
        path = os.pathsep.join(filter(None, [str(tmp), os.environ.get("PYTHONPATH")]))
        env = _env(DAGSTER_HOME=str(home), PYTHONPATH=path)
        mp = _best(repeat, lambda: _seconds(
            _RUN_JOB.format(name="multiprocess"), env))
        ip = _best(repeat, lambda: _seconds(
            _RUN_JOB.format(name="in_process"), env))
        res["executor_per_step"] = {"before": mp / 3, "after": ip / 3}

        project = str(ROOT / "dbt")
        dbt_exe = str(Path(sys.executable).parent / "dbt")  # this venv's (PATH may not have it)
        res["dbt_version_probe"] = {
            "before": _best(repeat, lambda: _seconds(
                _DBT_VERSION.format(project=project, exe=dbt_exe, skip=False), _env())),
            "after": _best(repeat, lambda: _seconds(
                _DBT_VERSION.format(project=project, exe=dbt_exe, skip=True), _env())),
        }

        empty = tmp / "no_pycache"
        empty.mkdir()

        def cold_import() -> float:  # a fresh empty cache each time: nothing compiled yet
            prefix = tempfile.mkdtemp(dir=empty)
            return _seconds(_IMPORT.format(extra="", gx_expected=False),
                            _env(PYTHONPYCACHEPREFIX=prefix, PYTHONDONTWRITEBYTECODE="1"))

        compiled = _best(repeat, lambda: _seconds(
            _IMPORT.format(extra="", gx_expected=False), _env()))
        res["bytecode"] = {"before": _best(repeat, cold_import), "after": compiled}
        res["gx_import"] = {
            "before": _best(repeat, lambda: _seconds(
                _IMPORT.format(extra="import great_expectations", gx_expected=True), _env())),
            "after": compiled,
        }
    return {k: {s: round(v, 3) for s, v in d.items()} for k, d in res.items()}


LABELS = {
    "executor_per_step": "Dagster step: own process (default executor) → in-process, per step",
    "dbt_version_probe": "dagster-dbt `dbt --version` before each invocation → skipped",
    "bytecode": "import the code location: no byte-compiled files → compiled",
    "gx_import": "load the code location: with `import great_expectations` → lazy",
}


def table(res: dict[str, dict[str, float]]) -> str:
    lines = ["| fixed overhead | before s | after s |", "|---|---:|---:|"]
    for k, d in res.items():
        lines.append(f"| {LABELS[k]} | {d['before']:.2f} | {d['after']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    t0 = time.perf_counter()
    res = measure_all(a.repeat)
    print(table(res))
    print(f"(measured in {time.perf_counter() - t0:.0f} s, best of {a.repeat})")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
