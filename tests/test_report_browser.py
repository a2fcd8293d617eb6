"""The HTML report in a real headless Chromium: no console errors, every figure decoded.

Drives Chromium over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
NUL-separated JSON on file descriptors 3 and 4), so no browser-automation
package is needed. Skipped when no Chromium is installed (CI installs only the
project's Python packages); ``apt-get install chromium`` enables it.

Also a tool: ``python -m tests.test_report_browser REPORT.html SHOT.png``
prints what the browser saw and writes a full-page screenshot.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.test_analysis_synthetic import ArmSpec, write_run

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    """Path of a Chromium-family browser, or None."""
    env = os.environ.get("HARNESS_CHROMIUM")
    if env and Path(env).exists():
        return env
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


@dataclass
class PageCheck:
    """What the browser saw when it loaded a page."""

    console_errors: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    section_ids: list[str] = field(default_factory=list)
    title: str = ""
    width: int = 0
    height: int = 0
    screenshot: bytes = b""


class _Cdp:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, browser: str, profile: str) -> None:
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()

        def map_fds() -> None:
            # Chromium reads commands on fd 3 and writes replies on fd 4. Park both ends
            # above 10 first: either may itself be fd 3 or 4 in this process.
            a = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self._proc = subprocess.Popen(
            [
                browser,
                "--headless=new",
                "--remote-debugging-pipe",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=map_fds,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        return self._next

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the debugging pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(
        self, method: str, params: dict | None = None, session: str | None = None, timeout=30.0
    ) -> dict[str, Any]:
        want = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev.get("method") == name:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if msg.get("method") == name:
                return msg
            self.events.append(msg)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except OSError:
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        os.close(self._w)
        os.close(self._r)


_PROBE = """JSON.stringify({
  title: document.title,
  sections: Array.from(document.querySelectorAll('section[id]')).map(s => s.id),
  images: Array.from(document.images).map(i => ({
    ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth, h: i.naturalHeight,
    data: i.src.startsWith('data:image/png;base64,'), alt: i.alt})),
  width: document.documentElement.scrollWidth,
  height: document.documentElement.scrollHeight})"""


def check_page(path: Path, browser: str, width: int = 1280, timeout: float = 60.0) -> PageCheck:
    """Load ``path`` from file:// in headless Chromium and report what it saw.

    Console errors include JavaScript exceptions, ``console.error`` calls and
    browser log entries at level error (a failed resource load, for one).
    """
    with tempfile.TemporaryDirectory(prefix="h8-chrome-") as profile:
        cdp = _Cdp(browser, profile)
        try:
            target = cdp.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
            sid = cdp.call(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                cdp.call(f"{domain}.enable", session=sid)
            cdp.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                session=sid,
            )
            cdp.call("Page.navigate", {"url": path.resolve().as_uri()}, session=sid)
            cdp.wait_event("Page.loadEventFired", timeout)
            probe = cdp.call(
                "Runtime.evaluate", {"expression": _PROBE, "returnByValue": True}, session=sid
            )
            seen = json.loads(probe["result"]["value"])
            height = int(seen["height"])
            cdp.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=sid,
            )
            shot = cdp.call(
                "Page.captureScreenshot", {"format": "png", "fromSurface": True}, session=sid
            )
            errors = []
            for ev in cdp.events:
                method, params = ev.get("method"), ev.get("params", {})
                if method == "Runtime.exceptionThrown":
                    errors.append(str(params.get("exceptionDetails", {}).get("text")))
                elif method == "Runtime.consoleAPICalled" and params.get("type") in (
                    "error",
                    "assert",
                ):
                    errors.append(json.dumps(params.get("args"))[:300])
                elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                    errors.append(str(params["entry"].get("text")))
        finally:
            cdp.close()
    return PageCheck(
        console_errors=errors,
        images=seen["images"],
        section_ids=seen["sections"],
        title=seen["title"],
        width=int(seen["width"]),
        height=height,
        screenshot=base64.b64decode(shot["data"]),
    )


BROWSER = find_browser()


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="no Chromium found (apt-get install chromium)")
def test_report_html_in_headless_chromium(tmp_path: Path) -> None:
    from harness.report import rebuild

    arms = {
        "sonnet": ArmSpec("claude-3-5-sonnet", skill=1.5, cost_usd=0.01),
        "qwen": ArmSpec("qwen-2-5-coder", cost_usd=0.002, usage_missing_rate=0.1),
    }
    run_dir = write_run(tmp_path, arms=arms, n_tasks=24, seed=4)
    md = rebuild(run_dir)[0]
    seen = check_page(md.with_suffix(".html"), BROWSER)
    assert seen.console_errors == []
    assert seen.title == "Report: ab_test / run-1"
    figures = sorted(p.stem for p in run_dir.glob("*.png"))
    assert len(seen.images) == len(figures) >= 4
    assert all(i["ok"] and i["data"] and i["w"] > 300 for i in seen.images), seen.images
    for sid in ("warnings", "per-arm", "comparison-paired-design", "cost-and-quality", "latency"):
        assert sid in seen.section_ids
    # Nothing spills sideways at a laptop width; the page is long, not empty.
    assert seen.width <= 1280 and seen.height > 2000
    assert seen.screenshot.startswith(b"\x89PNG")


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="no Chromium found (apt-get install chromium)")
def test_browser_check_sees_errors_and_broken_images(tmp_path: Path) -> None:
    """The check above can fail: a script error and a missing image are seen."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        '<img src="missing.png" alt="x"><script>throw new Error("boom")</script></body></html>'
    )
    seen = check_page(page, BROWSER)
    assert any("boom" in e or "Uncaught" in e for e in seen.console_errors), seen.console_errors
    assert seen.images and not seen.images[0]["ok"]


if __name__ == "__main__":  # python -m tests.test_report_browser REPORT.html SHOT.png
    if BROWSER is None:
        raise SystemExit("no Chromium found")
    result = check_page(Path(sys.argv[1]), BROWSER)
    Path(sys.argv[2]).write_bytes(result.screenshot)
    shown = {k: v for k, v in vars(result).items() if k != "screenshot"}
    print(json.dumps(shown, indent=1, default=str))
