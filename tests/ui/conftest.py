"""Fixtures of the UI tests: a running agent (real cluster, real Git remote) with sign-in on."""

from __future__ import annotations

from agent_harness import start_agent

__all__ = ["start_agent"]
