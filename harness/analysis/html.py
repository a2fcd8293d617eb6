"""The report as a document: a list of blocks, rendered to markdown or to one HTML file.

:mod:`harness.analysis.report` decides what a report says and builds it as
blocks; this module only renders them. The HTML is self-contained: CSS
inline, figures embedded as base64 PNG, no script and no external URL, so
the file opens from ``file://`` in any browser, mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Banner",
    "Block",
    "FigureRef",
    "Heading",
    "Items",
    "Links",
    "Table",
    "Text",
    "figure_data_uri",
    "png_bytes",
    "render_html",
    "render_markdown",
    "slug",
    "table",
]


@dataclass(frozen=True)
class Banner:
    """A highlighted line at the very top (the SIMULATED notice)."""

    text: str


@dataclass(frozen=True)
class Heading:
    """A heading; level 2 headings open a section whose HTML id is :func:`slug` of the text."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    """A paragraph. ``**bold**`` and `` `code` `` are honoured in HTML."""

    text: str


@dataclass(frozen=True)
class Items:
    """A bullet list; ``warning`` styles it as a list of warnings."""

    items: tuple[str, ...]
    warning: bool = False


@dataclass(frozen=True)
class Table:
    """A table of pre-formatted cells."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: Render without a header row (key/value tables).
    plain: bool = False
    #: In HTML, fold the table under this summary line (``<details>``, no script).
    fold: str | None = None


@dataclass(frozen=True)
class FigureRef:
    """A figure of the report, by its file stem (``<name>.png`` next to ``report.md``)."""

    name: str
    caption: str
    #: In HTML, let the image take the page's full width (wide heatmaps).
    wide: bool = False


@dataclass(frozen=True)
class Links:
    """Links to other files, e.g. each run's own report from a cross-run report."""

    links: tuple[tuple[str, str], ...]  # (label, relative href)


Block = Banner | Heading | Text | Items | Table | FigureRef | Links


def slug(text: str) -> str:
    """A stable HTML id for a heading: lower case, words joined by ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    plain: bool = False,
    fold: str | None = None,
) -> Table:
    """A :class:`Table` from any sequences (cells turned into strings)."""
    return Table(tuple(map(str, headers)), tuple(tuple(map(str, r)) for r in rows), plain, fold)


# --------------------------------------------------------------------------- markdown


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    headers = ("", "") if t.plain and len(t.headers) == 2 else t.headers
    out = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
    out.append("|" + "|".join("---" for _ in headers) + "|")
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(out)


def render_markdown(blocks: Sequence[Block]) -> str:
    """The blocks as GitHub-flavoured markdown (figures as ``![caption](name.png)``)."""
    parts: list[str] = []
    for b in blocks:
        if isinstance(b, Banner):
            parts.append(f"> {b.text}")
        elif isinstance(b, Heading):
            parts.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Text):
            parts.append(b.text)
        elif isinstance(b, Items):
            mark = "- ⚠ " if b.warning else "- "
            parts.append("\n".join(mark + item for item in b.items))
        elif isinstance(b, Table):
            parts.append(_md_table(b))
        elif isinstance(b, FigureRef):
            parts.append(f"![{b.caption}]({b.name}.png)")
        elif isinstance(b, Links):
            parts.append("\n".join(f"- [{label}]({href})" for label, href in b.links))
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;
 margin:0;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:18px 28px 48px;background:#fff;min-height:100vh}
h1{font-size:1.55em;margin:.4em 0 .6em}
h2{font-size:1.2em;margin:1.6em 0 .5em;padding-bottom:.2em;border-bottom:1px solid #dde1e6}
h3{font-size:1.05em;margin:1.2em 0 .4em}
.banner{background:#b03030;color:#fff;font-weight:600;padding:8px 14px;border-radius:4px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:13px;margin:.4em 0 .8em}
th,td{border:1px solid #d5dae0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}
tr:nth-child(even) td{background:#fafbfc}
table.kv td:first-child{font-weight:600;background:#f3f5f7;white-space:nowrap}
ul.warnings{background:#fff6e0;border:1px solid #f0d48a;border-radius:4px;
 padding:.6em 1em .6em 2.2em}
ul.warnings li{margin:.2em 0}
figure{display:inline-block;margin:.5em 1.2em .8em 0;vertical-align:top;max-width:560px}
figure img{max-width:100%;height:auto;border:1px solid #e3e6ea}
figure.wide{max-width:100%}
figcaption{font-size:13px;color:#555;margin-top:.2em}
code{background:#f0f2f4;padding:0 3px;border-radius:3px;font-size:.92em}
nav{font-size:13px;margin:.2em 0 1em;display:flex;flex-wrap:wrap;gap:.2em .9em}
nav a{white-space:nowrap}
summary{cursor:pointer;color:#245;margin:.3em 0}
"""


def _inline(text: str) -> str:
    """Escape, then honour the small markdown subset used in report text."""
    out = html.escape(text, quote=False)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return out


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """A figure rendered to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def figure_data_uri(fig: Figure | bytes, dpi: int = 110) -> str:
    """A figure (or its PNG bytes) as a ``data:image/png;base64,…`` URI."""
    data = fig if isinstance(fig, bytes) else png_bytes(fig, dpi)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _html_table(t: Table) -> str:
    cls = ' class="kv"' if t.plain else ""
    rows = []
    if not t.plain:
        rows.append("<tr>" + "".join(f"<th>{_inline(h)}</th>" for h in t.headers) + "</tr>")
    rows += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in t.rows]
    out = f'<div class="scroll"><table{cls}>' + "".join(rows) + "</table></div>"
    if t.fold:
        out = f"<details><summary>{_inline(t.fold)}</summary>{out}</details>"
    return out


def render_html(
    blocks: Sequence[Block], figures: Mapping[str, Figure | bytes], *, title: str, dpi: int = 110
) -> str:
    """The blocks as one self-contained HTML page.

    Args:
        blocks: The report's content.
        figures: Figures (or their PNG bytes, to render each once) by the names
            :class:`FigureRef` blocks use; each is embedded as a base64 PNG. A
            reference without a figure is skipped.
        title: The page title.
        dpi: Resolution of the embedded PNGs.

    Returns:
        The page: every level-2 heading opens a ``<section id="<slug>">``, a
        table of contents links them, and nothing is loaded from elsewhere.
    """
    body: list[str] = []
    toc: list[tuple[str, str]] = []
    in_section = False
    uris: dict[str, str] = {}
    for b in blocks:
        if isinstance(b, Banner):
            body.append(f'<div class="banner">{_inline(b.text)}</div>')
        elif isinstance(b, Heading):
            if b.level == 2:
                if in_section:
                    body.append("</section>")
                sid = slug(b.text)
                toc.append((sid, b.text))
                body.append(f'<section id="{sid}">')
                in_section = True
            body.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
            if b.level == 1:
                body.append("<!--toc-->")
        elif isinstance(b, Text):
            body.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Items):
            cls = ' class="warnings"' if b.warning else ""
            lis = "".join(f"<li>{_inline(i)}</li>" for i in b.items)
            body.append(f"<ul{cls}>{lis}</ul>")
        elif isinstance(b, Table):
            body.append(_html_table(b))
        elif isinstance(b, FigureRef):
            fig = figures.get(b.name)
            if fig is None:
                continue
            if b.name not in uris:
                uris[b.name] = figure_data_uri(fig, dpi)
            wide = ' class="wide"' if b.wide else ""
            body.append(
                f'<figure id="fig-{slug(b.name)}"{wide}><img src="{uris[b.name]}" '
                f'alt="{html.escape(b.caption)}"><figcaption>{_inline(b.caption)}'
                "</figcaption></figure>"
            )
        elif isinstance(b, Links):
            lis = "".join(
                f'<li><a href="{html.escape(href)}">{_inline(label)}</a></li>'
                for label, href in b.links
            )
            body.append(f"<ul>{lis}</ul>")
    if in_section:
        body.append("</section>")
    nav = (
        "<nav>" + " ".join(f'<a href="#{sid}">{html.escape(t)}</a>' for sid, t in toc) + "</nav>"
        if toc
        else ""
    )
    page = "\n".join(body).replace("<!--toc-->", nav, 1)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><main>\n{page}\n</main></body></html>\n"
    )
