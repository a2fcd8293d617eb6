"""harness: controlled experiments across many LLMs on coding tasks."""

from __future__ import annotations

__version__ = "0.1.0"
