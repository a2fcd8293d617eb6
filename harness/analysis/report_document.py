"""The :class:`Report` record and how a report's blocks become its texts.

Both the single-run report (:mod:`harness.analysis.report`) and the cross-run
report (:mod:`harness.analysis.cross_report`) end here: a list of blocks and a
console text go in, a :class:`Report` with its markdown comes out.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.analysis.html import Block, Heading, Items, render_html, render_markdown

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Report"]


@dataclass
class Report:
    """Everything a report shows.

    Attributes:
        run_id: The run reported on (a label for a cross-run report).
        simulated: True when the run (every run, for a cross-run report) was
            against the simulator.
        markdown: The text of ``report.md`` (figures referenced as ``<name>.png``).
        console: Plain-text version for the terminal.
        figures: Figures by file stem.
        tables: The DataFrames behind the text (``arms``, ``comparison``,
            ``errors``, ``categories`` …; a section left out has no table).
        blocks: The document both texts are rendered from.
        warnings: The warnings shown at the top, one sentence each.
        meta: Facts about the run for cross-run reports (experiment, design,
            status, endpoints, seed, tasks, trials, started_at, config).
        title: The report's title.
    """

    run_id: str
    simulated: bool
    markdown: str
    console: str
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    title: str = ""

    def html(self, dpi: int = 110, images: Mapping[str, bytes] | None = None) -> str:
        """The report as one self-contained HTML page (figures embedded as PNG).

        Args:
            dpi: Resolution of the figures rendered here.
            images: Figures already rendered to PNG, by name (not rendered again).
        """
        figures: dict[str, Figure | bytes] = {**self.figures, **(images or {})}
        return render_html(self.blocks, figures, title=self.title or self.run_id, dpi=dpi)


def _warning_blocks(warnings: Sequence[str]) -> list[Block]:
    return [Heading("Warnings"), Items(tuple(warnings), warning=True)] if warnings else []


def _warning_lines(warnings: Sequence[str]) -> list[str]:
    # The simulated banner already opens the console text.
    shown = [w for w in warnings if not w.startswith("Simulated endpoints")]
    return [f"! {textwrap.shorten(w, 200, placeholder=' …')}" for w in shown]


def _finish(
    run_id: str,
    simulated: bool,
    blocks: list[Block],
    txt: list[str],
    figures: dict[str, Figure],
    tables: dict[str, pd.DataFrame],
    warnings: list[str],
    meta: dict[str, Any],
    title: str,
) -> Report:
    return Report(
        run_id,
        simulated,
        render_markdown(blocks),
        "\n".join(txt) + "\n",
        figures,
        tables,
        blocks,
        warnings,
        meta,
        title,
    )
