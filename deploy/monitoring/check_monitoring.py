#!/usr/bin/env python3
"""Checks deploy/monitoring offline: the Grafana dashboard and the Prometheus alert rules name
only metrics the binaries export, with only labels those metrics have, and every exported
metric has a panel.

The exported names and labels are read from the sources (the `EXPORTED` lists of proxy/src/metrics.rs
and tool-server/src/metrics.rs; a unit test in each keeps that list equal to what the registry
serves), so a typo in an expression, or a metric renamed in the code, fails
here. promtool, when deploy/check.sh finds it, checks the PromQL syntax on top.

    check_monitoring.py --repo REPO [--panel-rules FILE]

--panel-rules writes the panels' expressions as a Prometheus rule file (Grafana's variables
filled in), so that promtool can check their syntax too.
"""
import argparse
import json
import re
import sys

import yaml

SOURCES = ["proxy/src/metrics.rs", "tool-server/src/metrics.rs"]
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# PromQL words (functions, aggregations, keywords) and Grafana's variables that may appear.
PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "by", "without", "and",
    "or", "unless", "on", "ignoring", "group_left", "group_right", "histogram_quantile",
    "clamp_min", "clamp_max", "abs", "bool", "offset", "topk", "bottomk", "delta", "deriv",
    "absent", "le", "inf", "nan", "e",
}
GRAFANA_VARIABLES = {"__rate_interval", "__interval", "instance"}


def exported(repo):
    """Metric name → its label names, from the `EXPORTED` lists of the sources."""
    metrics = {}
    for source in SOURCES:
        text = open(f"{repo}/{source}").read()
        block = re.search(r"pub const EXPORTED: &\[\(&str, &\[&str\]\)\] = &\[(.*?)\n\];", text, re.S)
        if not block:
            sys.exit(f"{source}: no `pub const EXPORTED` list")
        for name, labels in re.findall(r'\(\s*"([a-z_]+)",\s*&\[([^\]]*)\],?\s*\)', block.group(1)):
            metrics[name] = set(re.findall(r'"([a-z_]+)"', labels))
        listed = re.findall(r'"(okta_mcp_[a-z_]+)"', block.group(1))
        if sorted(listed) != sorted(n for n in metrics if n in listed):
            sys.exit(f"{source}: cannot read every entry of `EXPORTED` (read {sorted(metrics)})")
    if not metrics:
        sys.exit("no exported metrics found in " + ", ".join(SOURCES))
    return metrics


def base_name(name, metrics):
    if name in metrics:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in metrics:
            return name[: -len(suffix)]
    return None


def check_expr(where, expr, metrics, used, problems):
    """Every metric in `expr` exists and every label matcher names one of its labels."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals out of the way
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)  # range selectors
    found = False
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped):
        word = match.group(0)
        if word in PROMQL_WORDS or word in GRAFANA_VARIABLES:
            continue
        before = stripped[: match.start()]
        after = stripped[match.end():].lstrip()
        if before.endswith("$"):
            continue  # a Grafana variable
        if after[:1] in ("=", "!") or after[:2] == "=~":
            continue  # a label matcher: checked with its metric below
        if re.search(r"(by|without|on|ignoring)\s*\([^)]*$", before):
            continue  # a grouping label
        name = base_name(word, metrics)
        if name is None:
            problems.append(f"{where}: `{word}` is not a metric okta-mcp exports")
            continue
        found = True
        used.add(name)
        selector = re.match(r"\{([^}]*)\}", after)
        if selector:
            allowed = metrics[name] | ({"le"} if word.endswith("_bucket") else set()) | {"instance", "job"}
            for label in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", selector.group(1)):
                if label not in allowed:
                    problems.append(f"{where}: `{word}` has no label `{label}` (it has {sorted(metrics[name])})")
    if not found:
        problems.append(f"{where}: names no okta-mcp metric")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", default=".")
    parser.add_argument("--panel-rules")
    args = parser.parse_args()
    repo = args.repo
    metrics = exported(repo)
    problems = []
    used = set()

    rules = yaml.safe_load(open(f"{repo}/deploy/monitoring/alerts.yaml"))
    names = set()
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            alert = rule.get("alert", "?")
            where = f"alerts.yaml {alert}"
            if alert in names:
                problems.append(f"{where}: the alert name is used twice")
            names.add(alert)
            for key in ("expr", "for", "labels", "annotations"):
                if key not in rule:
                    problems.append(f"{where}: no `{key}`")
            if rule.get("labels", {}).get("severity") not in ("page", "warn", "info"):
                problems.append(f"{where}: severity must be page, warn or info")
            if not rule.get("annotations", {}).get("summary"):
                problems.append(f"{where}: no summary")
            check_expr(where, rule.get("expr", ""), metrics, used, problems)
    if not names:
        problems.append("alerts.yaml: no alert rules")

    dashboard = json.load(open(f"{repo}/deploy/monitoring/dashboard.json"))
    for key in ("title", "uid", "panels", "schemaVersion"):
        if key not in dashboard:
            problems.append(f"dashboard.json: no `{key}`")
    ids = set()
    panel_used = set()
    for panel in dashboard.get("panels", []):
        where = f"dashboard.json panel {panel.get('id')} ({panel.get('title')!r})"
        if panel.get("id") in ids:
            problems.append(f"{where}: the id is used twice")
        ids.add(panel.get("id"))
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")) or grid["x"] + grid["w"] > 24:
            problems.append(f"{where}: gridPos must have integer h, w, x, y within 24 columns")
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"{where}: no targets")
        for target in targets:
            check_expr(where, target.get("expr", ""), metrics, panel_used, problems)
    if args.panel_rules:
        exprs = [
            t.get("expr", "").replace("$__rate_interval", "5m").replace("$instance", ".*")
            for p in dashboard.get("panels", []) for t in p.get("targets", [])
        ]
        rules = [{"record": f"okta_mcp:panel_{i}", "expr": e} for i, e in enumerate(exprs)]
        with open(args.panel_rules, "w") as out:
            yaml.safe_dump({"groups": [{"name": "dashboard-panels", "rules": rules}]}, out)
    for name in sorted(set(metrics) - panel_used):
        problems.append(f"dashboard.json: no panel shows {name}")

    for problem in problems:
        print(f"FAIL  {problem}")
    if problems:
        return 1
    print(f"ok: {len(names)} alerts and {len(ids)} panels name only the {len(metrics)} exported metrics, each with a panel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
