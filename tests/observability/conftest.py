"""Fixtures of the observability tests (the running-agent harness lives in tests/agent_harness.py)."""

from agent_harness import start_agent

__all__ = ["start_agent"]
