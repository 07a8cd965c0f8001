"""The chart fixtures (defined in chart_harness.py): the install tests apply the chart like a team would."""

from chart_harness import chart_install, helm, make_namespace

__all__ = ["chart_install", "helm", "make_namespace"]
