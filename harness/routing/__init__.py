"""Routers: pure functions of task and context to a model, with a reason."""

from __future__ import annotations

from harness.routing.base import Decision, Router, make_router

__all__ = ["Decision", "Router", "make_router"]
