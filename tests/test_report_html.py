"""report.html is one self-contained file: it parses, embeds every figure, loads nothing."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from harness.analysis.html import Banner, FigureRef, Heading, Items, Text, render_html, table
from harness.analysis.report import build_report, write_report
from tests.test_analysis_synthetic import ArmSpec, write_run

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "wbr"}


class _Page(HTMLParser):
    """Collects tags, attributes and section ids; checks that elements nest properly."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.sections: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "section":
            self.sections.append(str(a.get("id")))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    assert p.errors == [] and p.stack == [], (p.errors, p.stack)
    return p


def assert_self_contained(page: str) -> _Page:
    """Every check a file:// page needs, without a browser."""
    assert page.startswith("<!DOCTYPE html>")
    p = parse(page)
    assert not re.search(r"https?://", page), re.findall(r".{40}https?://.{40}", page)
    names = [t for t, _ in p.tags]
    for tag in ("script", "link", "iframe", "object", "embed"):
        assert tag not in names, tag
    for tag, attrs in p.tags:
        if tag == "img":
            src = attrs.get("src") or ""
            assert src.startswith("data:image/png;base64,"), src[:60]
            assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
            assert attrs.get("alt")
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not value.startswith("//"), value  # protocol-relative = network
    assert "url(" not in page.split("</style>")[0]  # no CSS fetches
    return p


SECTIONS = (
    "warnings",
    "per-arm",
    "success-by-category",
    "comparison-paired-design",
    "reading",
    "cost-and-quality",
    "latency",
    "errors-and-usage",
    "methods",
)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    tmp = tmp_path_factory.mktemp("html")
    arms = {
        "sonnet": ArmSpec("claude-3-5-sonnet", skill=1.5, cost_usd=0.01),
        "qwen": ArmSpec("qwen-2-5-coder", cost_usd=0.002, usage_missing_rate=0.2),
    }
    run_dir = write_run(tmp, arms=arms, n_tasks=16, seed=3)
    con = duckdb.connect(str(run_dir / "harness.duckdb"), read_only=True)
    try:
        rep = build_report(con, "run-1")
    finally:
        con.close()
    write_report(rep, tmp / "out", dpi=60)
    return tmp / "out", rep


def test_run_report_html_is_self_contained_with_every_section(written) -> None:
    out, rep = written
    page = (out / "report.html").read_text(encoding="utf-8")
    p = assert_self_contained(page)
    for sid in SECTIONS:
        assert sid in p.sections, sid
    imgs = [a for t, a in p.tags if t == "img"]
    assert len(imgs) == len(rep.figures) >= 4  # one embedded image per figure
    # The banner opens the body; warnings are one styled list.
    body = page.split("<main>", 1)[1].lstrip()
    assert body.startswith('<div class="banner">SIMULATED run')
    assert "Missing usage:" in " ".join(p.text)
    warning_lists = [a for t, a in p.tags if t == "ul" and a.get("class") == "warnings"]
    assert len(warning_lists) == 1
    # The markdown file references PNGs that exist next to it.
    for ref in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "report.md").read_text()):
        assert (out / ref).read_bytes().startswith(b"\x89PNG")


def test_checker_rejects_what_a_browser_would_fetch() -> None:
    """The checks above can fail: each defect is caught."""
    good = render_html([Heading("T", 1), Text("x")], {}, title="t")
    assert_self_contained(good)
    for bad in (
        good.replace("<p>x</p>", '<p><img src="fig.png" alt="a"></p>'),
        good.replace("<p>x</p>", '<script src="x.js"></script>'),
        good.replace("<p>x</p>", "<p>see https://example.org</p>"),
        good.replace("<p>x</p>", "<p><b>x</p>"),
    ):
        with pytest.raises(AssertionError):
            assert_self_contained(bad)


def test_render_escapes_text_and_skips_missing_figures() -> None:
    blocks = [
        Banner("SIM <b>"),
        Heading("Doc", 1),
        Heading("A & B"),
        Text("**bold** and `code` <script>"),
        Items(("w1 <x>",), warning=True),
        table(["k", "v"], [["<td>", "1"]]),
        FigureRef("nope", "missing"),
    ]
    page = render_html(blocks, {}, title="<t>")
    p = assert_self_contained(page)
    assert p.sections == ["a-b"]
    assert "<strong>bold</strong>" in page and "<code>code</code>" in page
    assert "&lt;script&gt;" in page and "&lt;td&gt;" in page and "<title>&lt;t&gt;" in page
    assert "<img" not in page
