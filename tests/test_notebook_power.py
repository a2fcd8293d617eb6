"""Execute notebooks/power.ipynb on a small synthetic pilot run with a real Jupyter kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.conftest import REPO
from tests.test_analysis_synthetic import write_run

NOTEBOOK = REPO / "notebooks" / "power.ipynb"


def _outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


@pytest.mark.slow
def test_power_notebook_plans_from_rates_and_a_pilot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbclient = pytest.importorskip("nbclient")
    write_run(tmp_path, run_id="pilot", n_tasks=24, replicates=3, seed=4)
    monkeypatch.setenv("HARNESS_RESULTS", str(tmp_path))
    monkeypatch.setenv("HARNESS_RUN_ID", "pilot")
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
    assert "pilot pilot: qwen vs sonnet, 24 tasks × 3 replicates (paired)" in text
    assert "paired: tasks" in html and "split: tasks" in html
    assert "<th>mde</th>" in html and "paired t power on per-task differences" in html
    assert sum("image/png" in o.get("data", {}) for o in outs) == 2
