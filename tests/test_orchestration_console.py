"""``bilan run``'s console: a deliberate failure says why, without Dagster's stack trace."""

from __future__ import annotations

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
    """The step's failure and the run's: each says the Failure's message, then where the stack
    is, never Dagster's frames; the run's event log still holds the whole error."""
    err, result = _console_of(refuse, capfd)
    assert err.count("Failure: contrôles du bilan en échec : rien publié") == 2, err
    assert err.count("pile d'appels : dans le journal du run Dagster") == 2, err
    assert "Stack Trace" not in err and "execute_plan.py" not in err, err
    (failure,) = result.get_step_failure_events()
    assert failure.step_failure_data.error.stack  # kept in the event log


def test_any_other_error_keeps_its_stack_trace(capfd):
    """An unexpected exception (a bug) is printed as Dagster prints it, stack trace included."""
    err, _ = _console_of(bug, capfd)
    assert "ValueError: une erreur imprévue" in err
    assert "Stack Trace" in err and 'in bug\n' in err, err
    assert "pile d'appels" not in err


def test_a_deliberate_failure_keeps_the_stack_of_its_cause(capfd):
    """``raise dg.Failure(...) from exc`` (the publication refused): the Failure's own frames
    are left out, the exception it carries is printed with its stack, on the step's line and on
    the run's."""
    err, _ = _console_of(refuse_from_a_cause, capfd)
    assert err.count("Failure: publication refusée") == 2, err
    assert err.count("KeyError: 'convention'") == 2, err
    assert err.count("Stack Trace") == 2 and err.count('in refuse_from_a_cause\n') >= 2, err


def test_an_interrupted_run_prints_no_stack_trace(capfd):
    """``kill -TERM`` of ``bilan run``: Dagster interrupts the step; its stack (Dagster's signal
    handling) printed twice, full, above the summary (cold on-call review)."""
    err, _ = _console_of(interrupted, capfd)
    assert err.count("DagsterExecutionInterruptedError") == 2, err
    assert err.count("pile d'appels : dans le journal du run Dagster") == 2, err
    assert "Stack Trace" not in err, err
