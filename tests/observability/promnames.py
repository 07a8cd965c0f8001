"""Metric names for the observability tests: what an exposition offers, what a PromQL expression uses.

`exposed_names` turns a /metrics text into every name a query may use (a counter family `x` is
queried as `x_total`, a histogram as `x_bucket`/`x_count`/`x_sum`); `metric_names` finds the metric
names an expression reads, ignoring functions, keywords, label names, strings and durations — so a
misspelt metric is caught, not just a missing `gitops_agent_` prefix.
"""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "unknown": ("",),
}
KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
)
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def families(exposition: str) -> dict[str, str]:
    """Family name → type, e.g. {"gitops_agent_sync_operations": "counter"}.

    The classic text format has no type for a counter's or histogram's `_created` series, so the
    parser makes each one a family of its own; those are folded back into their metric.
    """
    found = {f.name: f.type for f in text_string_to_metric_families(exposition)}
    return {
        name: kind
        for name, kind in found.items()
        if not (name.endswith("_created") and name.removesuffix("_created") in found)
    }


def exposed_names(exposition: str) -> set[str]:
    """Every series name a query may use against this exposition."""
    names = set()
    for name, kind in families(exposition).items():
        names.update(name + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return names


def documented_names(exposition: str) -> set[str]:
    """The names as the README table lists them: counters with _total, histograms bare."""
    return {name + ("_total" if kind == "counter" else "") for name, kind in families(exposition).items()}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, regexes)
    text = re.sub(r"\{[^}]*\}", "{}", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "[]", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\w+", "", text)  # Grafana variables outside selectors
    names = set()
    for match in _IDENT.finditer(text):
        word, rest = match.group(), text[match.end() :].lstrip()
        if word in KEYWORDS or rest.startswith("(") or re.fullmatch(r"\d+\w*", word):
            continue
        names.add(word)
    return names
