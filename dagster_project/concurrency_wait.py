"""A step waiting for a ``warehouse_writer`` pool slot sleeps instead of spinning on a core.

Why this module exists: Dagster's in-process executor (the one this project's job uses) waits for
a pool slot in a loop that sleeps
``InstanceConcurrencyContext.interval_to_next_pending_claim_check()`` seconds between two looks.
In Dagster 1.13 that method returns ``min([0, *intervals])``, never more than 0, so the loop
never sleeps: a run whose step waits for the slot another run holds keeps one core at 100 % for
as long as it waits, and on a 2-core machine slows the very run it waits for (measured: 15 min
of CPU in 17 min of waiting, a ``bilan run`` beside a run the daemon launched, before pools were
enforced per run in the instance template). Dagster meant the time until the next pending claim
may be retried (its own back-off: 1 s, growing to 15 s); :func:`install` makes the method return
that, never less than 0. Claims themselves are unchanged: the executor still re-claims as soon
as the interval is up.

Installed when the code location is imported (``definitions.py``): the run worker, the CLI and
the tests all pass there. ``tests/test_reliability_concurrency.py`` fails if a waiting run
spins again (a Dagster version that changed the method), or if this patch no longer applies.
"""

from __future__ import annotations

import time

_PATCHED = "_bilan_sleeps_between_claims"


def install() -> None:
    """Replace the interval method by one that never returns less than 0 (idempotent)."""
    from dagster._core.execution.plan.instance_concurrency_context import (
        InstanceConcurrencyContext,
    )

    if getattr(InstanceConcurrencyContext.interval_to_next_pending_claim_check, _PATCHED, False):
        return

    def interval_to_next_pending_claim_check(self) -> float:
        # the seconds until the first pending claim may be tried again (0: now)
        if not self._pending_claims:
            return 0.0
        now = time.time()
        return max(0.0, min(self._pending_timeouts.get(key, now) - now
                            for key in self._pending_claims))

    setattr(interval_to_next_pending_claim_check, _PATCHED, True)
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = (
        interval_to_next_pending_claim_check
    )
