"""Redact the secrets the harness holds from the text it stores.

A model (or a provider, a tool, a candidate's program) that echoes an API key
would otherwise have it stored in clear. :class:`Redactor` is built from the
key values this process actually holds (:func:`held_secrets`: the env vars the
portfolio names, plus header and ``extra_body`` values whose names look
secret) and replaces each occurrence with ``[REDACTED:<label>]``, e.g.
``[REDACTED:OPENAI_API_KEY]``. :class:`~harness.store.writer.StoreWriter`
applies it to every text value of every row it accepts, so every stored column
(and what reports and exports read from them) is covered.

Caught: the value itself, and its form inside a JSON string when escaping
changes it (quotes, backslashes, non-ASCII). Not caught: encodings (base64,
URL-encoding), splits, partial echoes.

Values shorter than :data:`MIN_SECRET_LEN` characters are not redacted: a
placeholder such as ``EMPTY`` or ``none`` (keyless self-hosted servers) would
match everywhere and mangle stored text, and no real API key is that short.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.config.schema import ModelConfig

__all__ = ["MIN_SECRET_LEN", "Redactor", "held_secrets"]

log = logging.getLogger(__name__)

MIN_SECRET_LEN = 8

# Header / extra_body names whose string values are treated as secrets. A false
# positive only hides a harmless value behind a marker.
_SECRET_NAME = re.compile(r"auth|key|token|secret|passw|cookie|credential|signature", re.I)


class Redactor:
    """Replaces known secret values in text with ``[REDACTED:<label>]``."""

    __slots__ = ("_pairs",)

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        """``secrets`` maps a label (e.g. the env var's name) to the secret value.

        A value held under several labels is marked with the first.
        """
        pairs: dict[str, str] = {}
        for label, value in (secrets or {}).items():
            value = value.strip() if isinstance(value, str) else ""
            if len(value) < MIN_SECRET_LEN:
                if value:  # a placeholder, not a key: redacting it would mangle text
                    log.debug("%s is under %d characters: not redacted", label, MIN_SECRET_LEN)
                continue
            marker = f"[REDACTED:{label}]"
            for form in (value, json.dumps(value)[1:-1]):
                pairs.setdefault(form, marker)
        # Longest first: a secret that contains another is replaced whole.
        self._pairs = tuple(sorted(pairs.items(), key=lambda p: -len(p[0])))

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def text(self, text: str) -> str:
        """``text`` with every held secret replaced by its marker."""
        for needle, marker in self._pairs:
            if needle in text:
                text = text.replace(needle, marker)
        return text

    def row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``row`` with its string values redacted (other values as they are)."""
        out = dict(row)
        if self._pairs:
            for name, value in out.items():
                if isinstance(value, str):
                    out[name] = self.text(value)
        return out


def held_secrets(
    models: Mapping[str, ModelConfig], environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """Label → value of every secret a run with these portfolio models holds.

    The env var each model's ``api_key_env`` names (label: the var's name), and
    string values of ``headers`` / ``extra_body`` entries whose names look secret
    (label: ``<model>.headers.<name>``); for ``Authorization: Bearer <token>``
    the token alone as well, since that is what an echo would show.
    """
    out: dict[str, str] = {}
    for key, cfg in models.items():
        if cfg.api_key_env and environ.get(cfg.api_key_env):
            out.setdefault(cfg.api_key_env, environ[cfg.api_key_env])
        for label, value in _secret_values(f"{key}.headers", cfg.headers or {}):
            out.setdefault(label, value)
        for label, value in _secret_values(f"{key}.extra_body", cfg.extra_body or {}):
            out.setdefault(label, value)
    # The token of "<scheme> <token>" values, under its own label.
    for label, value in list(out.items()):
        scheme, _, token = value.strip().partition(" ")
        if token and scheme.isalpha():
            out.setdefault(f"{label}.token", token.strip())
    return out


def _secret_values(prefix: str, mapping: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(label, value) for secret-looking string entries of a (nested) mapping."""
    for name, value in mapping.items():
        label = f"{prefix}.{name}"
        if isinstance(value, Mapping):
            yield from _secret_values(label, value)
        elif isinstance(value, str) and _SECRET_NAME.search(str(name)):
            yield label, value
