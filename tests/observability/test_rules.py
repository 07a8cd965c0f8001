"""The chart's alerting rules and Grafana dashboard: promtool checks them, and they (and the README)
name only metrics the agent exposes. No cluster needed (promtool comes from hack/build-k8s.sh)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from promnames import documented_names, exposed_names, families, metric_names

from gitops_agent.agent.metrics import Metrics
from gitops_agent.localcluster import ensure_binaries

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "charts" / "gitops-agent" / "files" / "alerts.yaml"
DASHBOARD = ROOT / "charts" / "gitops-agent" / "files" / "dashboard.json"
ALERT_TESTS = Path(__file__).with_name("alerts_test.yaml")
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$job": ".*", "$deployment": ".*"}


@pytest.fixture(scope="module")
def promtool() -> Path:
    return ensure_binaries().path("promtool")


@pytest.fixture(scope="module")
def exposition() -> str:
    return Metrics().exposition().decode()


def _promtool(promtool: Path, *args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(promtool), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())  # type: ignore[no-any-return]


def _queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, expr) for every panel target and every query variable."""
    found = [(f"panel {p['id']} {t['refId']}", t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", variable["query"]["query"])
            assert inner, variable["query"]
            found.append((f"variable {variable['name']}", inner.group(1)))
    return found


def _substitute(expr: str) -> str:
    for name, value in sorted(GRAFANA_VARIABLES.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr}"
    return expr


# -- alerts --------------------------------------------------------------------------------------


def test_promtool_checks_the_alert_rules(promtool: Path) -> None:
    out = _promtool(promtool, "check", "rules", str(ALERTS))
    assert f"SUCCESS: {len(_rules())} rules found" in out


def test_the_alerts_pass_their_promtool_unit_tests(promtool: Path) -> None:
    assert "SUCCESS" in _promtool(promtool, "test", "rules", ALERT_TESTS.name, cwd=ALERT_TESTS.parent)


def test_every_alert_is_complete_and_reads_only_exposed_metrics(exposition: str) -> None:
    names = exposed_names(exposition)
    rules = _rules()
    assert {"GitopsAgentDeploymentSyncFailed", "GitopsAgentDeploymentOutOfSync", "GitopsAgentNoLeader"} <= {
        r["alert"] for r in rules
    }
    for rule in rules:
        assert re.fullmatch(r"GitopsAgent[A-Za-z]+", rule["alert"]), rule
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        used = metric_names(rule["expr"])
        assert used and used <= names, (rule["alert"], used - names)


# -- dashboard -----------------------------------------------------------------------------------


def test_the_dashboard_is_a_well_formed_grafana_dashboard() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "gitops-agent" and dashboard["title"] and dashboard["schemaVersion"] >= 36
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job", "deployment"} <= variables
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        assert panel["type"] in {"stat", "table", "timeseries"} and panel["title"], panel
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, f"panel {panel['id']} overlaps another"
        cells |= mine
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert ref_ids and len(ref_ids) == len(set(ref_ids))
        assert all(t["expr"].strip() for t in panel["targets"])
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in (
        "sync state",
        "health",
        "revision",
        "sync duration",
        "failures",
        "drift",
        "git fetch latency",
    ):
        assert topic in titles, topic


def test_promtool_parses_every_dashboard_query(promtool: Path, tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard:query_{i}", "expr": _substitute(expr)}
        for i, (_, expr) in enumerate(_queries(_dashboard()))
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in _promtool(promtool, "check", "rules", str(path))


def test_the_dashboard_reads_only_exposed_metrics(exposition: str) -> None:
    names = exposed_names(exposition)
    for where, expr in _queries(_dashboard()):
        used = metric_names(expr)
        assert used and used <= names, (where, used - names)


# -- README --------------------------------------------------------------------------------------


def test_the_readme_documents_every_metric_with_its_type_and_labels(exposition: str) -> None:
    section = (ROOT / "README.md").read_text().split("\n## Observability\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(gitops_agent_\w+)` \| (\w+) \| ([^|]*) \|", section, re.M)
    documented = {name: (kind, labels) for name, kind, labels in rows}
    assert set(documented) == documented_names(exposition)
    labels_of = _labels(exposition)
    for name, kind in families(exposition).items():
        shown = name + ("_total" if kind == "counter" else "")
        assert documented[shown][0] == kind, shown
        assert set(re.findall(r"`(\w+)`", documented[shown][1])) == labels_of[name], shown


def _labels(exposition: str) -> dict[str, set[str]]:
    """Label names per family (the exposition of a fresh registry has no series to read them from)."""
    wrappers = [m for m in vars(Metrics()).values() if isinstance(m, MetricWrapperBase)]
    labels = {m._name: set(m._labelnames) for m in wrappers}
    assert set(labels) == set(families(exposition))
    return labels
