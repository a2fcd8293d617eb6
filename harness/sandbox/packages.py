"""The read-only package set a sandbox may import (e.g. pytest for visible tests).

Packages are named by distribution (``pytest``); their requirements are followed, and every
top-level file or folder a distribution installed (``pytest``, ``_pytest``, ``py.py``, its
``.dist-info``) is bound read-only into the sandbox's ``/opt/harness-site``, which is put on
``PYTHONPATH``. Nothing else of the host's site-packages is visible.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

__all__ = ["SITE_DIR", "package_paths"]

SITE_DIR = "/opt/harness-site"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def package_paths(names: list[str] | tuple[str, ...]) -> dict[str, Path]:
    """``{entry name in SITE_DIR: host path}`` for the distributions ``names`` and their needs.

    Raises:
        ValueError: A named distribution is not installed (one line naming it).
    """
    out: dict[str, Path] = {}
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = _canonical(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name in {_canonical(n) for n in names}:
                raise ValueError(f"sandbox package {name!r} is not installed") from None
            continue  # an optional or platform-specific requirement that is absent
        for top in _top_levels(dist):
            out.setdefault(top.name, top)
        for req in dist.requires or []:
            if "extra ==" in req:
                continue  # only what the package needs, not its extras
            match = _NAME.match(req.strip())
            if match:
                todo.append(match.group(0))
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_levels(dist: metadata.Distribution) -> list[Path]:
    base = Path(str(dist.locate_file(""))).resolve()
    tops: set[Path] = set()
    for f in dist.files or []:
        parts = Path(str(f)).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(".pth"):
            continue
        path = base / parts[0]
        if path.exists():
            tops.add(path)
    return sorted(tops)
