"""``bilan run``'s console: a deliberate failure says why, without Dagster's stack trace, and
the run's failure does not print the step's error a second time."""

from __future__ import annotations

import os

import dagster as dg

from dagster_project.loggers import console_logger

RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dg.op
def refuse() -> None:
    raise dg.Failure(description="contrôles du bilan en échec : rien publié")


@dg.op
def refuse_from_a_cause() -> None:
    try:
        {}["convention"]
    except KeyError as exc:
        raise dg.Failure(description="publication refusée") from exc


@dg.op
def interrupted() -> None:
    from dagster._core.errors import DagsterExecutionInterruptedError

    raise DagsterExecutionInterruptedError  # as Dagster raises it in a step on kill -TERM


@dg.op
def bug() -> None:
    raise ValueError("une erreur imprévue")


def _console_of(op, capfd):
    @dg.job(logger_defs={"console": console_logger})
    def job():
        op()

    result = job.execute_in_process(raise_on_error=False, run_config=RUN_CONFIG)
    assert not result.success
    return capfd.readouterr().err, result


def test_a_deliberate_failure_prints_its_reason_without_the_stack(capfd):
    """The step's failure says the Failure's message, then where the stack is, never Dagster's
    frames; the run's failure points to it (it repeated it whole, stack included); the run's
    event log still holds the whole error."""
    err, result = _console_of(refuse, capfd)
    assert err.count("Failure: contrôles du bilan en échec : rien publié") == 1, err
    assert err.count("pile d'appels : dans le journal du run Dagster") == 1, err
    assert ("Steps failed: ['refuse'].\n(erreur : à l'étape en échec ci-dessus ; entière dans "
            "le journal du run Dagster)") in err
    assert "Stack Trace" not in err and "execute_plan.py" not in err, err
    (failure,) = result.get_step_failure_events()
    assert failure.step_failure_data.error.stack  # kept in the event log


def test_any_other_error_keeps_its_stack_trace(capfd):
    """An unexpected exception (a bug) is printed as Dagster prints it, stack trace included,
    once: the run's failure, which repeated it (an on-call engineer read two copies of the same
    trace), points to it."""
    err, _ = _console_of(bug, capfd)
    assert err.count("ValueError: une erreur imprévue") == 1, err
    assert err.count("Stack Trace") == 1 and 'in bug\n' in err, err
    assert "pile d'appels" not in err
    assert "Steps failed: ['bug'].\n(erreur : à l'étape en échec ci-dessus" in err


def test_a_deliberate_failure_keeps_the_stack_of_its_cause(capfd):
    """``raise dg.Failure(...) from exc`` (the publication refused): the Failure's own frames
    are left out, the exception it carries is printed with its stack, on the step's line."""
    err, _ = _console_of(refuse_from_a_cause, capfd)
    assert err.count("Failure: publication refusée") == 1, err
    assert err.count("KeyError: 'convention'") == 1, err
    assert err.count("Stack Trace") == 1 and err.count('in refuse_from_a_cause\n') == 1, err


def test_an_interrupted_run_prints_no_stack_trace(capfd):
    """``kill -TERM`` of ``bilan run``: Dagster interrupts the step; its stack (Dagster's signal
    handling) printed twice, full, above the summary (cold on-call review)."""
    err, _ = _console_of(interrupted, capfd)
    # the step's, and the run's ("interrupted unexpectedly": not its steps', so kept)
    assert err.count("DagsterExecutionInterruptedError") == 2, err
    # Dagster's error is a bare class name: each copy says what it means
    assert err.count("DagsterExecutionInterruptedError : run arrêté par un signal (Ctrl-C, "
                     "kill -TERM)\n") == 2, err
    assert err.count("pile d'appels : dans le journal du run Dagster") == 2, err
    assert "Stack Trace" not in err, err


def test_the_runs_failure_names_each_failed_step_once():
    """A dbt step failing many checks made the run's failure list it once per check
    (``['bilan_dbt_assets', 'bilan_dbt_assets', …]``, dozens of times). A run failure that is
    not its steps' keeps its error: it is printed nowhere else."""
    from dagster_project.loggers import _run_failure_head

    head = _run_failure_head(
        "Execution of run for \"bilan_nightly\" failed. Steps failed: ['bilan_dbt_assets', "
        "'bilan_dbt_assets', 'raw_tables', 'bilan_dbt_assets'].\n\ndagster…Error: …\nStack Trace:")
    assert head == (
        "Execution of run for \"bilan_nightly\" failed. Steps failed: ['bilan_dbt_assets', "
        "'raw_tables'].\n(erreur : à l'étape en échec ci-dessus ; entière dans le journal du run "
        "Dagster)")
    assert _run_failure_head("Execution of run for \"x\" failed. An exception was thrown "
                             "during execution.\n\nOSError: …") is None


def test_bilan_run_without_dagster_home_uses_the_makefiles_instance(tmp_path, monkeypatch):
    """`.venv/bin/bilan run` typed as the README shows it, without DAGSTER_HOME, ran on a
    throwaway instance: the run id it printed on failure existed nowhere, so *Re-execute from
    failure* was impossible and no UI or alert saw the run (on-call cold test). It now uses the
    Makefile's default, ``<project>/.dagster_home``, created from the committed template."""
    from dagster_project import cli, settings

    monkeypatch.setenv("DAGSTER_HOME", "unset below")  # recorded: restored after the test
    monkeypatch.delenv("DAGSTER_HOME")
    assert settings.dagster_home() == settings.PROJECT_ROOT / ".dagster_home"
    home = tmp_path / "home"
    monkeypatch.setattr(settings, "dagster_home", lambda: home)
    instance = cli._instance()
    try:
        assert not instance.is_ephemeral
        assert instance.root_directory == str(home)
        assert (home / "dagster.yaml").read_text() == (
            settings.PROJECT_ROOT / "dagster_home.template.yaml").read_text()
        assert os.environ["DAGSTER_HOME"] == str(home)  # for dbt and the run's own processes
    finally:
        instance.dispose()
