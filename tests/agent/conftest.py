"""Fixtures of the running-agent tests (the harness lives in tests/agent_harness.py)."""

from agent_harness import start_agent

__all__ = ["start_agent"]
