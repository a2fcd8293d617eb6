"""Pull the Python code out of a model's answer.

Models answer in Markdown more often than not: prose, then one or more fenced blocks, sometimes
an unterminated fence when the output was cut at ``max_tokens``, sometimes a ``<think>`` section
first. :func:`extract_code` turns any of that into the module source the verifier runs.
"""

from __future__ import annotations

import re

from harness.tasks.types import Task

__all__ = ["defines", "extract_code"]

# Info strings we read as Python; a bare fence counts too (models often omit the language).
_PY_LANGS = frozenset({"", "python", "python3", "py", "py3", "python2", "ipython", "sage"})
_FENCE = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
# A line that starts Python code at column 0 (used only for unfenced answers).
_CODE_START = re.compile(
    r"^(?:def |async def |class |import |from \S+ import |@\w|#|if __name__|[A-Za-z_]\w*\s*=)"
)


def extract_code(answer: str, task: Task) -> str:
    """The code to run for ``answer``.

    Rules, in order:

    1. Line endings are normalised (CRLF and lone CR become LF) and ``<think>…</think>``
       sections are dropped.
    2. Fenced blocks (```` ``` ```` or ``~~~``; an unterminated fence runs to the end) tagged
       Python or untagged are the candidates; if only other-language blocks exist, all blocks
       are. Among candidates, the longest one that defines ``task.entry_point`` wins, else the
       longest one. Without any fence the raw text is used from its first line of code on
       (an answer with no line that looks like code has no code).
    3. For ``humaneval``-style tasks the prompt is prepended. Code that does not define
       ``entry_point`` is a completion of the prompt (HumanEval's convention). Code that does
       define it redefines the prompt's stub, and still gets the prompt's imports and helper
       functions, which models often leave out (``from typing import List``); HumanEval
       prompts hold only imports and definitions, so running them first is harmless.

    Returns:
        The module source, or ``""`` when the answer holds no code at all.
    """
    text = _THINK.sub("", answer.replace("\r\n", "\n").replace("\r", "\n"))
    code = _pick_block(text, task.entry_point)
    if code is None:
        code = _strip_prose(text)
    code = code.strip("\n")
    if not code.strip():
        return ""
    code += "\n"
    if task.test_style == "humaneval":
        if defines(code, task.entry_point):
            code = task.prompt.rstrip("\n") + "\n\n\n" + code
        else:
            code = task.prompt + code
    return code


def defines(code: str, name: str) -> bool:
    """Whether ``code`` defines ``name`` as a function or class (at any indentation)."""
    if not name:
        return False
    pattern = rf"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+{re.escape(name)}\b"
    return re.search(pattern, code, re.MULTILINE) is not None


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced block, in order."""
    blocks: list[tuple[str, str]] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence = m.group("fence")
        info = m.group("info").strip().lower()
        lang = info.split()[0] if info else ""
        body: list[str] = []
        i += 1
        while i < len(lines):
            close = lines[i].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                break
            body.append(lines[i])
            i += 1
        blocks.append((lang, "\n".join(body)))
        i += 1  # past the closing fence (or the end)
    return blocks


def _pick_block(text: str, entry_point: str) -> str | None:
    blocks = _fenced_blocks(text)
    if not blocks:
        return None
    python = [body for lang, body in blocks if lang in _PY_LANGS]
    candidates = [b for b in (python or [body for _, body in blocks]) if b.strip()]
    if not candidates:
        return ""
    defining = [b for b in candidates if defines(b, entry_point)]
    # max() keeps the first of equal lengths; prefer the later one (a corrected version).
    pool = defining or candidates
    return max(reversed(pool), key=len)


def _strip_prose(text: str) -> str:
    """An unfenced answer from its first line of code on (``""`` if no line looks like code).

    A first line that is indented counts as code: a HumanEval completion is a function body.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if line[0] in " \t" or _CODE_START.match(line):
            return "\n".join(lines[i:])
        # A prose line: look for where the code starts.
        for j in range(i + 1, len(lines)):
            if _CODE_START.match(lines[j]):
                return "\n".join(lines[j:])
        return ""
    return ""
