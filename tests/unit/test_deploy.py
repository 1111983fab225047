"""The deploy files (compose, Dockerfile, Prometheus, Grafana, nginx) agree with the code.

Docker cannot run here, so this checks what can be checked without it. Each
check returns its problems; each has a test on the real files and one on a
small bad input, to show that it can fail.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from qc.settings import ROOT, Settings
from tests.unit.deploy_checks import compose as stack
from tests.unit.deploy_checks import promql, wiring

DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus-rules.yaml"
CASES = ROOT / "tests" / "unit" / "prometheus_rules_cases.yaml"
DEFAULTS = {f.name: f.default for f in dataclasses.fields(Settings)}
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not on PATH (Debian package prometheus); the rules are still checked against the code",
)


def load_yaml(path):
    """A YAML file, parsed safely."""
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml (anchors and merge keys resolved by PyYAML)."""
    return load_yaml(ROOT / "docker-compose.yml")


@pytest.fixture(scope="module")
def prom() -> dict:
    """deploy/prometheus.yml."""
    return load_yaml(DEPLOY / "prometheus.yml")


@pytest.fixture(scope="module")
def routes() -> dict[str, list[str]]:
    """Each service's URL rules."""
    return wiring.blueprint_routes()


@pytest.fixture(scope="module")
def known(prom, routes) -> promql.Known:
    """The metrics, label values and scrape jobs that expressions may use."""
    literals = promql.code_literals() | {rule for rules in routes.values() for rule in rules}
    return promql.Known(promql.code_series(), literals, frozenset(job["job_name"] for job in prom["scrape_configs"]))


def promtool(*args) -> subprocess.CompletedProcess:
    """Run promtool; its output is in the result for assertion messages."""
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


# --- metrics and PromQL -----------------------------------------------------


def test_the_code_defines_the_metrics_ops_rely_on():
    series = promql.code_series()
    assert {
        "up",
        "qc_http_requests_total",
        "qc_http_request_duration_seconds_bucket",
        "qc_consumer_lag",
        "qc_pipeline_latency_seconds_bucket",
        "qc_deadletter_events_total",
        "qc_notifications_total",
        "qc_submissions_total",
    } <= set(series)
    assert "qc_http_requests" not in series  # a counter's series carries _total
    assert {"stage", "le", "job"} <= series["qc_pipeline_latency_seconds_bucket"]


def test_promql_lexer_separates_metrics_from_functions_labels_and_literals():
    query = promql.parse_promql(
        'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{stage="x}y", job=~"p|q"}[10m] offset 1h30m)))'
        " > 1e3 and on (job) up == bool 1 unless ignoring(z) group_left(w) b:c"
    )
    assert query.metrics == {"a_bucket", "up", "b:c"}
    assert query.matchers == [("a_bucket", "stage", "=", "x}y"), ("a_bucket", "job", "=~", "p|q")]
    assert query.grouping == {"job", "le", "z", "w"}


def test_expression_check_names_each_mistake(known):
    problems = promql.expr_problems(
        'sum by (servce) (rate(qc_http_requests_totl[5m])) + qc_consumer_lag{grup="x"}'
        ' + qc_notifications_total{outcome="sended", job="nope"}',
        known,
    )
    assert problems == [
        "metric 'qc_http_requests_totl' is not defined in the code",
        "label 'grup' is not on qc_consumer_lag",
        "outcome='sended': the code never uses that value",
        "job 'nope' is not a scrape job in prometheus.yml",
        "grouping label 'servce' is on none of the metrics",
    ]


# --- Prometheus rules -------------------------------------------------------


def test_prometheus_rules_are_complete_and_use_only_what_the_code_defines(known):
    assert promql.rules_problems(load_yaml(RULES), known) == []


def test_rules_check_rejects_a_rule_without_severity_for_or_runbook(known):
    bad = {
        "groups": [
            {"name": "g", "rules": [{"alert": "A", "expr": "qc_nope_total > 0", "annotations": {"summary": "s"}}]}
        ]
    }
    assert promql.rules_problems(bad, known) == [
        "g/A: 'for' must be a duration, got None",
        "g/A: labels.severity must be critical, warning or info",
        "g/A: annotation 'description' missing",
        "g/A: annotation 'runbook' missing",
        "g/A: metric 'qc_nope_total' is not defined in the code",
    ]
    assert promql.rules_problems({}, known) == ["group None needs a name and rules"]


def test_every_alert_has_a_promtool_case_where_it_fires():
    alerts = {r["alert"] for g in load_yaml(RULES)["groups"] for r in g["rules"]}
    fired = {
        t["alertname"] for case in load_yaml(CASES)["tests"] for t in case["alert_rule_test"] if t.get("exp_alerts")
    }
    assert alerts - fired == set()


@needs_promtool
def test_promtool_accepts_the_rules(tmp_path):
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("groups: [{name: g, rules: [{alert: A, expr: 'rate(up[5m]'}]}]\n")
    assert promtool("check", "rules", str(bad)).returncode != 0


@needs_promtool
def test_alerts_fire_on_the_cases_and_only_on_them(tmp_path):
    # promtool compares annotations word for word; the cases test when alerts
    # fire, `check rules` has already parsed the annotation templates.
    rules = load_yaml(RULES)
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    cases = {**load_yaml(CASES), "rule_files": ["rules.yaml"]}
    (tmp_path / "cases.yaml").write_text(yaml.safe_dump(cases))
    result = promtool("test", "rules", str(tmp_path / "cases.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr

    # The same cases against a rule that never fires must fail.
    rules["groups"][0]["rules"][0]["expr"] = "vector(1) == 2"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    assert promtool("test", "rules", str(tmp_path / "cases.yaml")).returncode != 0


# --- Prometheus config ------------------------------------------------------


def test_prometheus_finds_its_rules_and_scrapes_every_web_service(prom, compose):
    assert wiring.prometheus_problems(prom, compose, ROOT, DEPLOY / "prometheus.yml") == []


def test_prometheus_check_catches_a_wrong_rules_path_and_target(prom, compose):
    bad = copy.deepcopy(prom)
    bad["rule_files"] = ["/etc/prometheus/rules.yaml"]
    bad["scrape_configs"][0]["static_configs"][0]["targets"] = ["checks-web:9999"]
    assert wiring.prometheus_problems(bad, compose, ROOT, DEPLOY / "prometheus.yml") == [
        "rule file /etc/prometheus/rules.yaml is not a file through the prometheus mounts",
        "job checks: checks-web:9999 is not a compose service on a port it serves",
    ]


@needs_promtool
def test_promtool_accepts_the_config_with_the_compose_mounts(prom, compose, tmp_path):
    config = copy.deepcopy(prom)
    service = compose["services"]["prometheus"]
    config["rule_files"] = [str(stack.host_path(service, path, ROOT)) for path in prom["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


# --- docker-compose ---------------------------------------------------------


def test_compose_dependencies_healthchecks_restarts_and_volumes(compose):
    assert stack.compose_problems(compose, ROOT) == []


def test_compose_check_catches_broken_wiring(compose):
    bad = copy.deepcopy(compose)
    del bad["services"]["mongo"]["healthcheck"]
    bad["services"]["checks-web"]["depends_on"]["cache"] = {"condition": "service_started"}
    bad["services"]["topics"]["restart"] = "always"
    bad["services"]["mailpit"].pop("restart")
    bad["services"]["notify-worker"]["volumes"] = ["checks-metrics:/tmp/metrics"]
    bad["services"]["proxy"]["volumes"] = ["./deploy/nginx.cnf:/etc/nginx/nginx.conf:ro"]
    problems = stack.compose_problems(bad, ROOT)
    for expected in (
        "topics is a one-shot job but restart: always would rerun it forever",
        "checks-web depends on cache, which is not a service",
        "checks-web waits for mongo to be healthy, but mongo has no healthcheck",
        "mongo has no healthcheck",
        "notify-worker writes metrics to checks-metrics, but notify-web serves notify-metrics",
        "mailpit runs for good but has restart: None",
        "proxy mounts ./deploy/nginx.cnf, which does not exist",
    ):
        assert expected in problems


# Dependencies where a started container is enough, and why.
STARTED_IS_ENOUGH = {
    # nginx resolves its upstreams per request (deploy/nginx.conf), so it may start before them.
    **{("proxy", f"{s}-web"): "per-request upstreams" for s in ("checks", "aggregate", "notify")},
    # A worker only joins its web's PID namespace (see checks-worker); it waits for kafka and mongo itself.
    **{(f"{s}-worker", f"{s}-web"): "PID namespace" for s in ("checks", "aggregate", "notify")},
}


def health_problems(compose: dict) -> list[str]:
    """Every long-running service has a healthcheck and restarts; dependants wait for health where it matters."""
    svcs = stack.services(compose)
    one_shots = {
        d for s in svcs.values() for d, c in stack.depends_on(s).items() if c == "service_completed_successfully"
    }
    problems = []
    for name, svc in svcs.items():
        if name in one_shots:
            continue
        test = (svc.get("healthcheck") or {}).get("test") or []
        if not test or test[0] not in ("CMD", "CMD-SHELL") or (svc.get("healthcheck") or {}).get("disable"):
            problems.append(f"{name} runs for good but has no healthcheck")
        if svc.get("restart") not in ("always", "unless-stopped"):
            problems.append(f"{name} runs for good but has restart: {svc.get('restart')!r}")
        for dep, condition in stack.depends_on(svc).items():
            if condition == "service_started" and "healthcheck" in svcs.get(dep, {}):
                if (name, dep) not in STARTED_IS_ENOUGH:
                    problems.append(f"{name} starts once {dep} has started; make it wait for service_healthy")
    return problems


def test_every_long_running_service_has_a_healthcheck_and_a_restart_policy(compose):
    assert health_problems(compose) == []
    bad = copy.deepcopy(compose)
    del bad["services"]["prometheus"]["healthcheck"]
    bad["services"]["notify-worker"]["healthcheck"] = {"test": ["NONE"]}
    bad["services"]["grafana"]["restart"] = "no"
    bad["services"]["grafana"]["depends_on"] = ["mailpit"]
    assert health_problems(bad) == [
        "notify-worker runs for good but has no healthcheck",
        "prometheus runs for good but has no healthcheck",
        "grafana runs for good but has restart: 'no'",
        "grafana starts once mailpit has started; make it wait for service_healthy",
    ]


def _stamp_poll(directory, seconds_ago: float) -> None:
    """A worker process that last went round ``seconds_ago``, writing to the multiprocess ``directory``."""
    code = "import time; from qc.metrics import CONSUMER_LAST_POLL as last_poll; " + (
        f"last_poll.labels('qc-x').set(time.time() - {seconds_ago})"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def test_the_worker_healthcheck_runs_and_fails_a_worker_that_stopped_going_round(compose, tmp_path):
    test = compose["services"]["checks-worker"]["healthcheck"]["test"]
    assert all(compose["services"][f"{s}-worker"]["healthcheck"]["test"] == test for s in ("aggregate", "notify"))
    assert test[:3] == ["CMD", "python", "-c"]

    def healthy() -> bool:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
        result = subprocess.run([sys.executable, *test[2:]], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode in (0, 1), result.stderr
        return result.returncode == 0

    assert not healthy()  # no worker has polled yet
    _stamp_poll(tmp_path, 400)
    assert not healthy()  # hung for longer than QcWorkerNotReporting allows
    _stamp_poll(tmp_path, 1)
    assert healthy()  # restarted: the fresh process counts


def test_compose_commands_run_real_code(compose, routes):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert stack.command_problems(compose, scripts) == []
    assert stack.coverage_problems(compose, sorted(routes)) == []

    bad = copy.deepcopy(compose)
    bad["services"]["checks-web"]["command"][-1] = "services.chekcs.bootstrap:create_app()"
    bad["services"]["notify-worker"]["command"] = ["python", "-m", "services.notify.wroker"]
    bad["services"]["topics"]["command"] = ["qc", "topic", "create"]
    assert stack.command_problems(bad, scripts) == [
        "topics: `qc topic create` is not a qc command",
        "checks-web: services.chekcs.bootstrap:create_app() is not a services.<name>.bootstrap:create_app()"
        " that exists",
        "notify-worker: no module services.notify.wroker",
    ]
    del bad["services"]["notify-worker"]
    assert stack.coverage_problems(bad, ["checks", "aggregate", "notify"]) == [
        "services/checks has no web container",
        "services/notify has a worker but no notify-worker container",
    ]


def test_compose_environment_names_are_settings(compose):
    assert stack.env_problems(compose, DEFAULTS) == []
    bad = {"services": {"w": {"build": ".", "environment": ["QC_KAFKA_BOOTSTRAPS=kafka:9092"]}}}
    problems = stack.env_problems(bad, DEFAULTS)
    assert problems[0] == "w: QC_KAFKA_BOOTSTRAPS is not a setting"
    assert "w: QC_CHECKS_PUBLIC_URL is not set, so links would point at 127.0.0.1" in problems


def test_web_ports_match_the_settings_defaults(compose):
    assert {service: port for service, port in stack.web_ports(compose).values()} == {
        "checks": DEFAULTS["checks_port"],
        "aggregate": DEFAULTS["aggregate_port"],
        "notify": DEFAULTS["notify_port"],
    }
    assert stack.port_problems(compose, DEFAULTS) == []
    bad = copy.deepcopy(compose)
    bad["services"]["notify-web"]["command"][4] = "0.0.0.0:8004"
    assert stack.port_problems(bad, DEFAULTS) == [
        "notify-web binds port 8004, but QC_NOTIFY_PORT defaults to 8003",
        "notify-web: its healthcheck does not ask port 8004",
    ]


# --- nginx ------------------------------------------------------------------


def test_nginx_sends_every_route_to_the_service_that_serves_it(compose, routes):
    conf = (DEPLOY / "nginx.conf").read_text()
    assert wiring.nginx_problems(conf, compose, routes, DEFAULTS["max_body_bytes"]) == []


@pytest.mark.parametrize("service", ["checks", "aggregate", "notify"])
def test_nginx_serves_each_services_openapi_document_at_its_own_address(service):
    """All three serve /openapi.json on their own port; through the one origin each has its own address."""
    conf = (DEPLOY / "nginx.conf").read_text()
    body = wiring.nginx_route(wiring.nginx_locations(conf), f"/openapi/{service}.json")
    assert body is not None and f"proxy_pass ${service};" in body and "rewrite ^ /openapi.json break;" in body


def test_nginx_check_catches_a_misrouted_path_and_a_wrong_upstream(compose):
    conf = """
        client_max_body_size 1m;
        set $checks http://checks-web:8001;
        set $notify http://notify-web:8001;
        location = /x { return 200 '{"a": "}"}'; }
        location ~ ^/api/v1/alerts { proxy_pass $notify; }
        location / { proxy_pass $checks; }
    """
    routes = {"checks": ["/", "/x"], "aggregate": ["/api/v1/rollups/sites/<site_id>"]}
    assert wiring.nginx_problems(conf, compose, routes, 65536) == [
        "location ^/api/v1/alerts: http://notify-web:8001 is not a compose service on a port it serves",
        "/x is served by checks-web but nginx sends it to None",
        "/api/v1/rollups/sites/x1 is served by aggregate-web but nginx sends it to checks-web",
        "client_max_body_size is 1048576 bytes, the services allow 65536",
    ]


# --- Grafana ----------------------------------------------------------------


def test_grafana_provisioning_is_mounted_and_resolves(compose):
    assert wiring.grafana_problems(compose, ROOT) == []
    bad = copy.deepcopy(compose)
    bad["services"]["grafana"]["volumes"] = [
        v.replace("/dashboards:", "/boards:") for v in bad["services"]["grafana"]["volumes"]
    ]
    assert wiring.grafana_problems(bad, ROOT) == [
        "dashboard provider qc: '/etc/grafana/dashboards' holds no dashboards in the container"
    ]


def test_dashboards_query_only_what_the_code_defines(known):
    uids = {source["uid"] for source in wiring.provisioned_datasources(DEPLOY / "grafana" / "provisioning")}
    dashboards = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert dashboards
    for path in dashboards:
        assert promql.dashboard_problems(json.loads(path.read_text()), known, uids) == [], path.name

    bad = {
        "panels": [
            {"id": 1, "type": "row", "panels": [{"id": 1, "title": "T", "targets": [{"expr": "rate(qc_lag[5m])"}]}]}
        ]
    }
    assert promql.dashboard_problems(bad, known, uids) == [
        "T: data source None is not provisioned",
        "T: metric 'qc_lag' is not defined in the code",
        "panel ids repeat: [1, 1]",
    ]


# Panels the issue asks for: (what ops look at, metric, label matchers, grouping labels, quantile).
REQUIRED_PANELS = [
    ("every service up", "up", [], set(), None),
    ("each worker's liveness", "qc_consumer_last_poll_timestamp_seconds", [], {"group"}, None),
    ("consumer lag per group and partition", "qc_consumer_lag", [], {"group", "partition"}, None),
    *[
        (
            f"{percentile} latency to {stage}",
            "qc_pipeline_latency_seconds_bucket",
            [("stage", "=", stage)],
            {"le"},
            quantile,
        )
        for stage in ("rollup_updated", "alert_raised")
        for percentile, quantile in (("p50", "0.5"), ("p99", "0.99"))
    ],
    ("dead letters", "qc_deadletter_events_total", [], set(), None),
    ("delivery failures", "qc_notifications_total", [("outcome", "=", "failed")], {"channel"}, None),
    ("HTTP 5xx by service", "qc_http_requests_total", [("status", "=~", "5..")], {"service"}, None),
    ("HTTP latency by service", "qc_http_request_duration_seconds_bucket", [], {"service", "le"}, "0.99"),
    ("submissions by outcome", "qc_submissions_total", [], {"outcome"}, None),
    ("alerts by rule and severity", "qc_alerts_raised_total", [], {"rule", "severity"}, None),
]


def code_families() -> dict[str, set[str]]:
    """Each metric family the code defines, with the series names it is queried by."""
    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    families = {}
    for name in promql.metric_modules():
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, MetricWrapperBase):
                family = value.describe()[0]
                families[family.name] = {family.name + suffix for suffix in suffixes[family.type]}
    return families


def panel_coverage_problems(dashboards: list[dict]) -> list[str]:
    """Metric families no panel shows, and panels the issue asks for that no dashboard has."""
    queries = []
    for dashboard in dashboards:
        panels = list(dashboard.get("panels") or [])
        for panel in panels:
            panels += panel.get("panels") or []
            for target in panel.get("targets") or []:
                expr = target.get("expr", "")
                queries.append((re.sub(r"\s+", "", expr), promql.parse_promql(expr)))
    shown = {metric for _, query in queries for metric in query.metrics}
    problems = [f"no panel shows {family}" for family, series in sorted(code_families().items()) if not series & shown]
    for what, metric, matchers, grouping, quantile in REQUIRED_PANELS:
        if not any(
            metric in query.metrics
            and all((metric, *matcher) in query.matchers for matcher in matchers)
            and grouping <= query.grouping
            and (quantile is None or f"histogram_quantile({quantile}," in expr)
            for expr, query in queries
        ):
            problems.append(f"no panel shows {what}")
    return problems


def test_every_metric_family_and_every_panel_the_issue_asks_for_is_on_a_dashboard():
    dashboards = [json.loads(p.read_text()) for p in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))]
    assert panel_coverage_problems(dashboards) == []

    only_http = {"panels": [{"id": 1, "targets": [{"expr": "sum by (service) (rate(qc_http_requests_total[5m]))"}]}]}
    problems = panel_coverage_problems([only_http])
    assert "no panel shows qc_consumer_lag" in problems
    assert "no panel shows qc_http_requests" not in problems
    assert "no panel shows consumer lag per group and partition" in problems
    assert "no panel shows p50 latency to alert_raised" in problems
    lag_by_group = {"panels": [{"id": 1, "targets": [{"expr": "max by (group) (qc_consumer_lag)"}]}]}
    assert "no panel shows consumer lag per group and partition" in panel_coverage_problems([lag_by_group])


# --- Dockerfile and .dockerignore -------------------------------------------


def dockerignore() -> list[str]:
    """The patterns in .dockerignore."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerfile_copies_what_exists_and_points_settings_at_it():
    assert wiring.dockerfile_problems((ROOT / "Dockerfile").read_text(), dockerignore(), DEFAULTS, ROOT) == []
    bad = "WORKDIR /app\nCOPY qc ./qc\nCOPY tests ./tests\nENV QC_SCHEMA_DIR=/app/schemas\n"
    problems = wiring.dockerfile_problems(bad, dockerignore(), DEFAULTS, ROOT)
    assert problems[:2] == [
        "COPY tests: .dockerignore leaves it out of the build context",
        "ENV QC_SCHEMA_DIR is not a setting",
    ]
    assert "ENV QC_SCHEMAS_DIR must be /app/schemas (the default lies inside the source tree)" in problems


def test_dockerignore_keeps_local_state_out_and_the_package_in():
    patterns = dockerignore()
    for path in (".venv/bin/python", "var/demo-credentials.json", ".git/HEAD", "qc/__pycache__/x.pyc", "tests"):
        assert wiring.dockerignored(patterns, path), path
    for path in ("qc/settings.py", "services/checks/web/static/checks.css", "schemas", "deploy/alert-rules.yaml"):
        assert not wiring.dockerignored(patterns, path), path


def test_compose_has_no_default_credentials_and_publishes_only_the_proxy(compose):
    raw = (ROOT / "docker-compose.yml").read_text()
    # ${NAME:-default} would start with a known secret; ${NAME:?message} refuses to start without one.
    defaults = re.findall(r"\$\{([A-Z0-9_]*(?:PASSWORD|SECRET|KEY|TOKEN)[A-Z0-9_]*):-", raw)
    assert defaults == [], f"secrets with defaults: {defaults}"
    assert "${QC_SECRET_KEY:?" in raw and "${GRAFANA_ADMIN_PASSWORD:?" in raw
    published = sorted(name for name, svc in compose["services"].items() if svc.get("ports"))
    assert published == ["proxy"]
    ops = yaml.safe_load((ROOT / "deploy" / "compose.ops-ports.yml").read_text())
    for name, svc in ops["services"].items():
        assert name in compose["services"]
        assert all(str(p).startswith("127.0.0.1:") for p in svc["ports"]), f"{name} is published beyond loopback"
