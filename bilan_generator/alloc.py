"""Exact integer allocation helpers (largest remainder, with minimums and caps).

Every calibrated total is split with these functions, so that the parts always
add up exactly to the published figure.
"""

from __future__ import annotations

import random

_BIG = 10**18


def allocate(
    total: int,
    weights: list[float],
    *,
    minimum: int = 0,
    caps: list[int] | None = None,
) -> list[int]:
    """Split ``total`` into ``len(weights)`` non-negative integers proportional to
    ``weights``, each at least ``minimum`` (or its cap) and at most its cap."""
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError("cannot allocate a non-zero total to nothing")
        return []
    cap = [_BIG if caps is None or caps[i] is None else caps[i] for i in range(n)]
    alloc = [min(minimum, cap[i]) for i in range(n)]
    rest = total - sum(alloc)
    if rest < 0:
        raise ValueError(f"total {total} below the minimums")
    if rest > sum(cap[i] - alloc[i] for i in range(n)):
        raise ValueError(f"total {total} above the caps")
    while rest > 0:
        active = [i for i in range(n) if alloc[i] < cap[i]]
        w = [max(float(weights[i]), 0.0) for i in active]
        ws = sum(w)
        if ws <= 0:
            w, ws = [1.0] * len(active), float(len(active))
        fracs = []
        given = 0
        for k, i in enumerate(active):
            ideal = rest * w[k] / ws
            f = min(int(ideal), cap[i] - alloc[i])
            alloc[i] += f
            given += f
            fracs.append((ideal - int(ideal), -k, i))
        rest -= given
        for _frac, _k, i in sorted(fracs, reverse=True):
            if rest == 0:
                break
            if alloc[i] < cap[i]:
                alloc[i] += 1
                rest -= 1
    return alloc


def random_weights(rng: random.Random, n: int, sigma: float = 0.6) -> list[float]:
    """Log-normal weights: a few big actions, many small ones."""
    return [rng.lognormvariate(0.0, sigma) for _ in range(n)]
