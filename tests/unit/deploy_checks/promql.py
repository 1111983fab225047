"""The metrics the code defines; PromQL in the Prometheus rules and Grafana dashboards checked against them."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re

from prometheus_client.metrics import MetricWrapperBase

from qc.settings import ROOT

# Labels Prometheus adds to every scraped series, and its own per-target series.
TARGET_LABELS = frozenset({"job", "instance"})
STANDARD_SERIES = {"up": TARGET_LABELS}
# Label values the code computes rather than spells out.
COMPUTED_LABELS = {"status", "partition", "le", "instance"}
_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}


def metric_modules() -> list[str]:
    """qc.metrics and every services.<name>.metrics."""
    found = sorted(ROOT.glob("services/*/metrics.py"))
    return ["qc.metrics", *(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in found)]


def code_series() -> dict[str, frozenset[str]]:
    """Every series name the code exposes (``_total``, ``_bucket`` …) with its label names."""
    series = dict(STANDARD_SERIES)
    # Read from `make run`'s supervisor at each scrape rather than defined as metric objects.
    from qc.metrics import SUPERVISED_SERIES

    series.update({name: frozenset(labels) | TARGET_LABELS for name, labels in SUPERVISED_SERIES.items()})
    for name in metric_modules():
        for value in vars(importlib.import_module(name)).values():
            if not isinstance(value, MetricWrapperBase):
                continue
            labels = frozenset(value._labelnames) | TARGET_LABELS
            for family in value.describe():
                # Counters drop "_total" from the family name (and may not on other versions).
                base = family.name.removesuffix("_total") if family.type == "counter" else family.name
                for suffix in _SUFFIXES[family.type]:
                    series[base + suffix] = labels | {"le"} if suffix == "_bucket" else labels
    return series


def code_literals() -> frozenset[str]:
    """Every string constant in qc/ and services/: where label values come from."""
    found = set()
    for path in [*ROOT.glob("qc/**/*.py"), *ROOT.glob("services/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return frozenset(found)


_STRING = r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`"""
_SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)?\s*\{((?:" + _STRING + r"""|[^}"'`])*)\}""")
_MATCHER = re.compile(r"([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*(" + _STRING + ")")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_DURATION = re.compile(r"(?<![\w.])\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*\b")
_NUMBER = re.compile(r"(?<![\w.])(?:0x[0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?)")
_IDENT = re.compile(r"[A-Za-z_:][\w:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}
_REGEX_META = set(".^$*+?{}[]\\()")


@dataclasses.dataclass
class Query:
    """What a PromQL expression refers to."""

    metrics: set[str]
    matchers: list[tuple[str | None, str, str, str]]  # metric, label, op, value
    grouping: set[str]


def parse_promql(expr: str) -> Query:
    """The metric names, label matchers and grouping labels in ``expr`` (a lexer, not a full parser)."""
    matchers = []

    def selector(m: re.Match) -> str:
        for label, op, value in _MATCHER.findall(m.group(2)):
            matchers.append((m.group(1), label, op, value[1:-1]))
        return f" {m.group(1) or ''} "

    text = _SELECTOR.sub(selector, expr)
    grouping = {label.strip() for labels in _GROUPING.findall(text) for label in labels.split(",") if label.strip()}
    text = _GROUPING.sub(" ", text)
    for pattern in (re.compile(_STRING), re.compile(r"\[[^\]]*\]"), re.compile(r"\$\{?\w+\}?"), _DURATION, _NUMBER):
        text = pattern.sub(" ", text)
    metrics = {
        m.group()
        for m in _IDENT.finditer(text)
        if m.group().lower() not in _KEYWORDS and not text[m.end() :].lstrip().startswith("(")
    }
    metrics |= {v for name, label, op, v in matchers if name is None and label == "__name__" and op == "="}
    return Query(metrics, matchers, grouping)


@dataclasses.dataclass(frozen=True)
class Known:
    """What an expression may refer to."""

    series: dict[str, frozenset[str]]
    literals: frozenset[str]  # label values the code can emit
    jobs: frozenset[str]  # scrape job names in prometheus.yml


def expr_problems(expr: str, known: Known) -> list[str]:
    """Metrics, labels and label values in ``expr`` that the code (or prometheus.yml) does not define."""
    query = parse_promql(expr)
    problems = [f"metric {m!r} is not defined in the code" for m in sorted(query.metrics - set(known.series))]
    labels = set(TARGET_LABELS)
    for m in query.metrics & set(known.series):
        labels |= known.series[m]
    for metric, label, op, value in query.matchers:
        allowed = known.series.get(metric, labels) if metric else labels
        if label != "__name__" and label not in allowed:
            problems.append(f"label {label!r} is not on {metric or 'these metrics'}")
            continue
        values = [value] if op in ("=", "!=") else value.split("|")
        if op in ("=~", "!~") and _REGEX_META & set(value):
            continue  # a real pattern: nothing literal to check
        for v in values:
            if label == "job" and v not in known.jobs:
                problems.append(f"job {v!r} is not a scrape job in prometheus.yml")
            elif label not in COMPUTED_LABELS | {"job", "__name__"} and v not in known.literals:
                problems.append(f"{label}={v!r}: the code never uses that value")
    problems += [f"grouping label {g!r} is on none of the metrics" for g in sorted(query.grouping - labels)]
    return problems


def duration_ok(value: object) -> bool:
    """A Prometheus duration such as 0m, 90s or 1h30m."""
    return isinstance(value, str) and bool(re.fullmatch(r"(\d+(ms|[smhdwy]))+", value))


def rules_problems(doc: dict, known: Known) -> list[str]:
    """Structure of a Prometheus rules file, and every expr against the code."""
    problems, names = [], set()
    for group in (doc or {}).get("groups") or [None]:
        if not isinstance(group, dict) or not group.get("name") or not group.get("rules"):
            problems.append(f"group {group!r} needs a name and rules")
            continue
        for rule in group["rules"]:
            name = rule.get("alert")
            where = f"{group['name']}/{name}"
            if not name or name in names:
                problems.append(f"{where}: every rule needs a unique alert name")
            names.add(name)
            if not duration_ok(rule.get("for")):
                problems.append(f"{where}: 'for' must be a duration, got {rule.get('for')!r}")
            if (rule.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
                problems.append(f"{where}: labels.severity must be critical, warning or info")
            annotations = rule.get("annotations") or {}
            problems += [
                f"{where}: annotation {a!r} missing"
                for a in ("summary", "description", "runbook")
                if not annotations.get(a)
            ]
            if not rule.get("expr"):
                problems.append(f"{where}: no expr")
            else:
                problems += [f"{where}: {p}" for p in expr_problems(str(rule["expr"]), known)]
    return problems


def dashboard_problems(dashboard: dict, known: Known, datasource_uids: set[str]) -> list[str]:
    """Every panel's queries use defined metrics and a provisioned data source; panel ids are unique."""
    problems, ids = [], []
    panels = list(dashboard.get("panels") or [])
    if not panels:
        problems.append("the dashboard has no panels")
    for panel in panels:
        panels += panel.get("panels") or []  # a collapsed row holds its panels
        ids.append(panel.get("id"))
        title = panel.get("title")
        for target in panel.get("targets") or []:
            uid = (target.get("datasource") or panel.get("datasource") or {}).get("uid")
            if uid not in datasource_uids:
                problems.append(f"{title}: data source {uid!r} is not provisioned")
            problems += [f"{title}: {p}" for p in expr_problems(target.get("expr", ""), known)]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids repeat: {ids}")
    return problems
