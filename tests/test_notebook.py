"""Execute notebooks/analysis.ipynb on a synthetic results folder with a real Jupyter kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.conftest import REPO
from tests.test_analysis_synthetic import write_run

NOTEBOOK = REPO / "notebooks" / "analysis.ipynb"


def _outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def test_analysis_notebook_runs_on_a_results_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("harness.store.reader")
    write_run(tmp_path, run_id="older", n_tasks=6, seed=1)
    write_run(tmp_path, run_id="run-2", n_tasks=12, seed=2)
    # The kernel is a child process: it inherits these.
    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path))
    monkeypatch.setenv("HARNESS_RUN_ID", "run-2")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("MPLBACKEND", "Agg")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not _outputs(nb), "commit the notebook without outputs"
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()

    outs = _outputs(nb)
    assert not [o for o in outs if o.output_type == "error"]
    text = "\n".join(
        o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
        for o in outs
    )
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outs if "data" in o)
    assert "run-2: 24 trials, 12 tasks" in text
    assert "older" in html and "run-2" in html  # the runs table lists both runs
    assert "success_ci_low" in html and "McNemar" in html
    assert "p_adjusted" in html or "p_value" in html
    assert "older/sonnet" in html and "run-2/qwen" in html  # runs side by side
    # heatmap, cost-quality, latency and TTFT CDFs of the run, and the cross-run plot
    assert sum("image/png" in o.get("data", {}) for o in outs) >= 5
    assert "SIMULATED run" in text or "SIMULATED run" in "\n".join(
        o.get("data", {}).get("text/markdown", "") for o in outs if "data" in o
    )
    assert "Report: ab_test / run-2" in text
