"""Figures: the artists carry the numbers of the summary, and they render to PNG."""

from __future__ import annotations

import io

import duckdb
import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from harness.analysis.frames import arm_summary, trials_frame
from harness.analysis.plots import latency_cdf, success_vs_cost, ttft_cdf
from tests.test_analysis_synthetic import write_run


@pytest.fixture(scope="module")
def trials(tmp_path_factory: pytest.TempPathFactory):
    run_dir = write_run(tmp_path_factory.mktemp("plots"), n_tasks=20, replicates=2)
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    t = trials_frame(con)
    con.close()
    return t


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    return buf.getvalue()


def test_success_vs_cost_points_and_error_bars(trials) -> None:
    summary = arm_summary(trials, ["sonnet", "qwen"])
    fig = success_vs_cost(summary, note="SIMULATED")
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2
    for bar, (arm, row) in zip(bars, summary.iterrows(), strict=True):
        x, y = bar.lines[0].get_data()
        assert (x[0], y[0]) == pytest.approx((row.mean_cost_usd, row.success_rate))
        assert bar.get_label() == arm
        assert bar.has_xerr and bar.has_yerr
        segments = [seg for coll in bar.lines[2] for seg in coll.get_segments()]
        spans = sorted((s[:, 0].min(), s[:, 0].max()) for s in segments if s[0, 1] == s[1, 1])
        assert spans[0] == pytest.approx((row.cost_ci_low, row.cost_ci_high))
    assert {t.get_text() for t in ax.texts} == {"sonnet", "qwen"}
    assert any(t.get_text() == "SIMULATED" for t in fig.texts)
    assert _png(fig).startswith(b"\x89PNG")


def test_latency_cdf_one_curve_per_arm_log_x(trials) -> None:
    fig = latency_cdf(trials, order=["sonnet", "qwen"])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lines = ax.get_lines()
    assert len(lines) == 2
    for line, arm in zip(lines, ["sonnet", "qwen"], strict=True):
        x, y = line.get_data()
        expected = np.sort(trials.loc[trials["arm"] == arm, "latency_ms"].dropna().to_numpy())
        assert np.allclose(x, expected) and y[-1] == pytest.approx(1.0)
        assert line.get_label().startswith(f"{arm} (n={expected.size}")
    assert _png(fig).startswith(b"\x89PNG")


def test_ttft_cdf_and_empty_data(trials) -> None:
    fig = ttft_cdf(trials)
    assert "first token" in fig.axes[0].get_title()
    empty = latency_cdf(trials.assign(latency_ms=np.nan))
    assert not empty.axes[0].get_lines()
    assert any("no latency_ms" in t.get_text() for t in empty.axes[0].texts)
    _png(empty)
