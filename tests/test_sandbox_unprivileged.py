"""The unprivileged half: the sandbox attack suites again, as a uid with no privilege at all.

CI runs as root, and as root the sandbox takes a different path (a host uid per session, no
user namespace for the outer sandbox). A researcher's laptop takes the other one, so the same
attacks must fail there too. As root, this test re-runs :data:`ATTACK_SUITES` with pytest as
:data:`UID` and requires every collected test to pass: a skip there counts as a failure, since
it would mean the half did not run. Not root, the suite already runs unprivileged and this test
does not apply. Under ``CI=true`` a root run that cannot drop privileges fails.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.sandbox.uids import kill_uid
from tests.conftest import REPO
from tests.test_sandbox import IN_CI, uid_left_running

UID = 4242
# Suites that attack the sandbox; a suite joins the unprivileged half by existing.
ATTACK_SUITES = ("tests/test_sandbox.py", "tests/test_verifier_attacks.py")
CHILD_TIMEOUT_S = 600


def suites() -> list[str]:
    found = [s for s in ATTACK_SUITES if (REPO / s).exists()]
    assert ATTACK_SUITES[0] in found, f"{ATTACK_SUITES[0]} is missing"
    return found


def _hidden_under(path: str) -> str | None:
    """The topmost ancestor of ``path`` that others may not traverse (``/root`` is 0700)."""
    parts = Path(path).parts
    for i in range(2, len(parts)):
        folder = os.path.join(*parts[:i])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def privilege_drop(uid: int, needed: list[str]) -> list[str]:
    """argv prefix: a privileged bubblewrap that keeps the host's whole tree but makes every
    ``needed`` path reachable for ``uid`` (a fresh 0755 tmpfs over each closed ancestor, the
    path bound back read-only), then switches to ``uid`` with no capability left."""
    args = [shutil.which("bwrap") or "bwrap", "--dev-bind", "/", "/"]
    binds: dict[str, list[str]] = {}
    for path in sorted({os.path.realpath(p) for p in needed}):
        hidden = _hidden_under(path)
        if hidden is not None and not any(path.startswith(b + "/") for b in binds.get(hidden, [])):
            binds.setdefault(hidden, []).append(path)
    for hidden, paths in binds.items():
        args += ["--tmpfs", hidden, "--perms", "0755", "--dir", hidden]
        for path in paths:
            rel = Path(path).relative_to(hidden).parts
            for i in range(1, len(rel)):
                args += ["--perms", "0755", "--dir", os.path.join(hidden, *rel[:i])]
            args += ["--ro-bind", path, path]
    # setpriv needs these three to switch ids and empty the bounding set, then drops them.
    for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
        args += ["--cap-add", cap]
    ids = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    return [
        *args,
        "setpriv",
        *ids,
        "--no-new-privs",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--",
    ]


def child_env() -> dict[str, str]:
    """From scratch: no key of the root run reaches the child; CI passes through."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "USER": f"uid{UID}",
        "LOGNAME": f"uid{UID}",
        "PYTHONDONTWRITEBYTECODE": "1",  # the repo is root's: nothing may be written into it
    }
    if "CI" in os.environ:
        env["CI"] = os.environ["CI"]
    return env


def collected(files: list[str]) -> int:
    """How many tests ``files`` hold, collected as root: what the child must pass."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    match = re.search(r"(\d+) tests? collected", out.stdout)
    assert match, out.stdout[-2000:] + out.stderr[-2000:]
    return int(match.group(1))


def junit_counts(path: Path) -> dict[str, int]:
    suite = ET.parse(path).getroot()
    if suite.tag == "testsuites":
        suite = suite[0]
    return {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}


def require_privilege_drop() -> None:
    if os.geteuid() != 0:
        pytest.skip("not root: this whole run is already the unprivileged half")
    missing = [p for p in ("bwrap", "setpriv") if shutil.which(p) is None]
    if missing:
        why = f"cannot drop to an unprivileged uid: {', '.join(missing)} not found"
        if IN_CI:
            pytest.fail(f"CI=true and {why}; the unprivileged half must run")
        pytest.skip(why)


@pytest.fixture
def child_tmp() -> Iterator[Path]:
    """A folder the unprivileged uid owns (pytest's own tmp_path is root's, mode 0700)."""
    require_privilege_drop()  # before anything: not root, kill_uid below would hit ourselves
    path = Path(tempfile.mkdtemp(prefix="harness-unpriv-", dir="/tmp"))
    os.chown(path, UID, UID)
    yield path
    kill_uid(UID)  # a leak is reported by the test; here only tidy up before removing
    shutil.rmtree(path, ignore_errors=True)


async def test_attack_suites_pass_unprivileged(child_tmp: Path) -> None:
    files = suites()
    expected = collected(files)
    needed = [sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))]
    drop = privilege_drop(UID, [*needed, str(REPO)])
    env = child_env()
    # A cheap check first, so that a broken drop reads as such and not as failing tests.
    probe = subprocess.run(
        [*drop, sys.executable, "-c", "import os, harness.sandbox; print(os.geteuid())"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert probe.stdout.strip() == str(UID), f"privilege drop failed: {probe.stderr[-2000:]}"

    junit = child_tmp / "junit.xml"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    argv += [f"--basetemp={child_tmp / 'pytest'}", f"--junitxml={junit}", *files]
    run = await asyncio.to_thread(
        subprocess.run,
        [*drop, *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert junit.exists(), report
    counts = junit_counts(junit)
    assert counts == {"tests": expected, "failures": 0, "errors": 0, "skipped": 0}, report
    assert run.returncode == 0, report
    # Unprivileged, the harness cannot kill by uid: whatever a sandbox leaves behind stays.
    assert await uid_left_running(UID) == [], "processes of the unprivileged uid outlive its run"
