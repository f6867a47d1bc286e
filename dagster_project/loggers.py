"""``bilan run``'s console logger: Dagster's own, without a deliberate failure's stack trace.

Why this module exists: a step that stops on purpose raises ``dg.Failure`` with a message saying
what failed and why (dbt tests failing on the data, dbt interrupted, the publication refused by the
control totals). Dagster's console logger prints that message, then its stack trace: some twenty
lines of Dagster's own frames, twice (the step's failure, then the run's), above ``bilan run``'s
summary of what failed. This logger is Dagster's colored console logger, but for an error of class
``Failure``, or an interruption (``DagsterExecutionInterruptedError``: the run stopped by a signal,
``kill -TERM`` or Ctrl-C, whose frames are Dagster's signal handling), it leaves out that error's
own stack trace (an interruption, a bare class name, is told what it means). And the run's failure,
which repeats the failed step's error whole (stack included) right after the step printed it, is
shortened to its first line, its list of failed steps without repeats (a dbt step failing many
checks was listed once per check). The exception a Failure carries as its cause (``raise
dg.Failure(...) from exc``) keeps its stack, as does any other exception (a bug, a warehouse still
busy after the retries), and every error stays whole in the run's event log (the Dagster UI,
``dagster debug export``). Runs launched from Dagster (UI, schedule, sensor) keep Dagster's logger:
their errors are read in the UI.
"""

from __future__ import annotations

import logging
import re

import dagster as dg

_TRACE = "\nStack Trace:\n"
# errors raised on purpose: their message says it all, their stack is Dagster's own frames
_INTERRUPTED = "DagsterExecutionInterruptedError"
_DELIBERATE = frozenset({"Failure", _INTERRUPTED})
# what Dagster's interruption (a bare class name) means on ``bilan run``'s console
_WHY_INTERRUPTED = " : run arrêté par un signal (Ctrl-C, kill -TERM)"


def _event_of(record: logging.LogRecord):
    return (getattr(record, "dagster_meta", None) or {}).get("dagster_event")


def _error_of(record: logging.LogRecord):
    """The error a Dagster event log record carries (a step's or a run's failure), if any."""
    return getattr(getattr(_event_of(record), "event_specific_data", None), "error", None)


_STEPS_FAILED = re.compile(r"Steps failed: \[(.*?)\]")


def _run_failure_head(msg: str) -> str | None:
    """A run's failure caused by its steps: its first line, each failed step named once, and
    where its error is; None for any other run failure (its error is printed nowhere else)."""
    head = msg.split("\n", 1)[0]
    m = _STEPS_FAILED.search(head)
    if not m:
        return None
    steps = list(dict.fromkeys(s.strip() for s in m[1].split(",") if s.strip()))
    return (head[: m.start(1)] + ", ".join(steps) + head[m.end(1):]
            + "\n(erreur : à l'étape en échec ci-dessus ; entière dans le journal du run Dagster)")


class _WithoutFailureTrace(logging.Formatter):
    """Formats a copy of the record with a ``Failure``'s stack trace left out (the record itself
    goes on to Dagster's other loggers unchanged)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        error = _error_of(record)
        event = _event_of(record)
        if (error is not None and isinstance(record.msg, str)
                and getattr(event, "event_type", None) == dg.DagsterEventType.RUN_FAILURE):
            head = _run_failure_head(record.msg)
            if head is not None:
                return self.inner.format(logging.makeLogRecord({**record.__dict__, "msg": head}))
        if (error is not None and error.cls_name in _DELIBERATE and error.stack
                and isinstance(record.msg, str)):
            trace = _TRACE + "".join(error.stack)
            if trace in record.msg:
                msg = record.msg.replace(
                    trace, "\n(pile d'appels : dans le journal du run Dagster)\n")
                head = error.message.rstrip("\n")
                if error.cls_name == _INTERRUPTED and head.endswith(_INTERRUPTED):
                    # raised on a signal without a message (a bare class name): say what it is
                    msg = msg.replace(head, head + _WHY_INTERRUPTED, 1)
                record = logging.makeLogRecord({**record.__dict__, "msg": msg})
        return self.inner.format(record)


def _console(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = dg.colored_console_logger.logger_fn(init_context)
    for handler in logger.handlers:
        handler.setFormatter(_WithoutFailureTrace(handler.formatter or logging.Formatter()))
    return logger


# Dagster's own description: the run's job snapshot stays the code location's
console_logger = dg.LoggerDefinition(
    _console,
    config_schema=dg.colored_console_logger.config_schema,
    description=dg.colored_console_logger.description,
)
