"""Small statistics shared by the evaluation, the benchmark and the load tool."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between the closest ranks, as numpy; None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), p)) if len(values) else None
