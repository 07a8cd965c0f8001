"""Fixtures of the chart tests (defined in chart_harness.py, importable by the test modules)."""

from chart_harness import chart_install, helm, make_namespace

__all__ = ["chart_install", "helm", "make_namespace"]
