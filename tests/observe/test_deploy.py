"""The Prometheus alerting rules and the Grafana dashboard in deploy/ are valid and use only
metrics warroom exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from warroom.observe.collector import render
from warroom.observe.models import DatabaseGauges

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "warroom-alerts.yaml"
DASHBOARD = DEPLOY / "grafana" / "warroom-dashboard.json"
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                              "_created")}

pytestmark = pytest.mark.integration


def exported() -> set[str]:
    """Every series name this process's /metrics can carry (families and their suffixes)."""
    text = render(DatabaseGauges(open_incidents={}, backlog={}, audit_chain_length=0)).decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + s for s in SUFFIXES.get(family.type, ()))
    return names


def referenced(expr: str) -> set[str]:
    return set(re.findall(r"\b(?:warroom|process)_[a-z_]+\b", expr))


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def grafana_to_promql(expr: str) -> str:
    """Put concrete values where Grafana substitutes its variables."""
    return expr.replace("$__rate_interval", "5m").replace('"$job"', '".*"')


def promtool_run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)


def test_alerting_rules_pass_promtool(promtool: str) -> None:
    result = promtool_run(promtool, "check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_and_dashboard_use_only_exported_metrics() -> None:
    names = exported()
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    for rule in (r for g in groups for r in g["rules"]):
        assert referenced(rule["expr"]) and referenced(rule["expr"]) <= names, rule["alert"]
    for expr in dashboard_exprs():
        assert referenced(expr) and referenced(expr) <= names, expr


def test_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:panel{i}", "expr": grafana_to_promql(e)}
        for i, e in enumerate(dashboard_exprs())]}]}
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = promtool_run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def _series(name: str, values: str, **labels: str) -> dict[str, Any]:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def test_the_alerts_fire_on_trouble_and_not_on_a_healthy_warroom(
    promtool: str, tmp_path: Path
) -> None:
    # promtool compares annotations verbatim: test the expressions and labels on a copy
    # without them (`check rules` above validates the annotation templates)
    groups = yaml.safe_load(ALERTS.read_text())
    for rule in (r for g in groups["groups"] for r in g["rules"]):
        rule.pop("annotations", None)
    rules = tmp_path / "warroom-alerts.yaml"
    rules.write_text(yaml.safe_dump(groups, sort_keys=False))
    tests = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {   # the backlog climbs by one incident a minute with no worker taking any
                "interval": "1m",
                "input_series": [
                    _series("warroom_workflow_backlog", "0+1x60", stage="queued",
                            instance="api-1"),
                    _series("warroom_workflow_backlog", "0x60", stage="analyzing",
                            instance="api-1"),
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "WarroomWorkflowBacklogGrowing",
                     "exp_alerts": []},
                    {"eval_time": "40m", "alertname": "WarroomWorkflowBacklogGrowing",
                     "exp_alerts": [{"exp_labels": {"severity": "warning"}}]},
                ],
            },
            {   # a steady backlog of three is work in progress, not a growing backlog
                "interval": "1m",
                "input_series": [_series("warroom_workflow_backlog", "3x60", stage="queued",
                                         instance="api-1")],
                "alert_rule_test": [{"eval_time": "40m",
                                     "alertname": "WarroomWorkflowBacklogGrowing",
                                     "exp_alerts": []}],
            },
            {   # one debate in four times out
                "interval": "1m",
                "input_series": [
                    _series("warroom_debate_seconds_count", "0+3x60", status="ready"),
                    _series("warroom_debate_seconds_count", "0+1x60", status="timeout"),
                ],
                "alert_rule_test": [{"eval_time": "30m", "alertname": "WarroomDebatesTimingOut",
                                     "exp_alerts": [{"exp_labels": {"severity": "warning"}}]}],
            },
            {   # the database refuses the ingest path for ten minutes
                "interval": "1m",
                "input_series": [
                    _series("warroom_database_errors_total", "0+2x20", where="ingest"),
                    _series("warroom_webhooks_total", "0+2x20", source="alertmanager",
                            code="503"),
                    _series("warroom_webhooks_total", "0+50x20", source="alertmanager",
                            code="202"),
                ],
                "alert_rule_test": [
                    {"eval_time": "12m", "alertname": "WarroomDatabaseErrors",
                     "exp_alerts": [{"exp_labels": {"severity": "critical",
                                                    "where": "ingest"}}]},
                    {"eval_time": "12m", "alertname": "WarroomWebhooksRejected",
                     "exp_alerts": [{"exp_labels": {"severity": "warning",
                                                    "source": "alertmanager",
                                                    "code": "503"}}]},
                ],
            },
            {   # a healthy warroom: everything stored, nothing refused, no error
                "interval": "1m",
                "input_series": [
                    _series("warroom_webhooks_total", "0+50x60", source="alertmanager",
                            code="202"),
                    _series("warroom_database_errors_total", "0x60", where="ingest"),
                    _series("warroom_debate_seconds_count", "0+3x60", status="ready"),
                ],
                "alert_rule_test": [
                    {"eval_time": "50m", "alertname": name, "exp_alerts": []}
                    for name in ("WarroomWebhooksRejected", "WarroomDatabaseErrors",
                                 "WarroomDebatesTimingOut")
                ],
            },
        ],
    }
    path = tmp_path / "warroom-alerts.test.yaml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool_run(promtool, "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
