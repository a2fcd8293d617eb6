"""Multiple-comparison corrections over a family of p-values (statsmodels ``multipletests``).

A report that tests several arm pairs × metrics × categories runs many tests;
at α = 0.05 each, some come out "significant" by chance. The family here is
every p-value handed in at once; the adjusted p-values are kept next to the
raw ones so a reader can see both.

- ``"holm"`` (default) — Holm (1979) step-down: controls the family-wise error
  rate under any dependence, uniformly more powerful than Bonferroni.
- ``"bh"`` — Benjamini & Hochberg (1995) step-up: controls the false discovery
  rate (valid under independence or positive dependence).
- ``"bonferroni"`` and ``"none"`` for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["CORRECTIONS", "adjust_pvalues", "correction_name"]

#: Accepted ``correction`` names → statsmodels ``multipletests`` method.
CORRECTIONS: dict[str, str | None] = {
    "holm": "holm",
    "bh": "fdr_bh",
    "fdr_bh": "fdr_bh",
    "bonferroni": "bonferroni",
    "none": None,
}

_NAMES = {
    "holm": "Holm step-down (FWER)",
    "fdr_bh": "Benjamini-Hochberg (FDR)",
    "bonferroni": "Bonferroni (FWER)",
    None: "no correction",
}


def _method(correction: str) -> str | None:
    key = str(correction).lower()
    if key not in CORRECTIONS:
        raise ValueError(f"correction must be one of {sorted(CORRECTIONS)}, got {correction!r}")
    return CORRECTIONS[key]


def correction_name(correction: str) -> str:
    """Readable name of a correction (for report footnotes), e.g. ``"Holm step-down (FWER)"``."""
    return _NAMES[_method(correction)]


def adjust_pvalues(
    p_values: Sequence[float | None] | np.ndarray, correction: str = "holm"
) -> np.ndarray:
    """Adjusted p-values for one family of tests.

    Missing p-values (None or NaN: a test that could not be run) are left out
    of the family and stay NaN, so they neither count towards the number of
    tests nor receive an adjusted value.

    Args:
        p_values: Raw two-sided p-values, any order.
        correction: ``"holm"`` (default), ``"bh"`` (alias ``"fdr_bh"``),
            ``"bonferroni"`` or ``"none"``.

    Returns:
        Array of adjusted p-values in the input order (each ≥ its raw value, ≤ 1).

    Raises:
        ValueError: Unknown correction or a p-value outside [0, 1].
    """
    method = _method(correction)
    p = np.array([np.nan if v is None else float(v) for v in p_values], dtype=float)
    ok = np.isfinite(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    if not ok.any():
        return out
    if method is None:
        out[ok] = p[ok]
        return out
    from statsmodels.stats.multitest import multipletests

    out[ok] = multipletests(p[ok], method=method)[1]
    return out
