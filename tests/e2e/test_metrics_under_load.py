"""Under `make run`-like load every metric ops rely on is exposed, well named, and moves.

One stack of our own (embedded broker, database, SMTP sink, the three
services under gunicorn with their workers, as `make run` starts them) on
free ports. Each web service's /metrics also carries its worker's series (one
PROMETHEUS_MULTIPROC_DIR per service), so three scrapes see all six
processes, as Prometheus does with deploy/prometheus.yml. The scrapes are
parsed with prometheus-client's own parser; when Debian's `prometheus` is
installed, a real Prometheus scrapes the same stack too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from qc.kafka import make_producer
from qc.settings import ROOT, TOPICS
from qc_tools import demo_checks
from qc_tools.devstack import free_port, http_ok, wait_until
from services.aggregate.worker import GROUP as AGGREGATE_GROUP
from services.aggregate.worker import AggregateHandler
from services.checks.worker import GROUP as CHECKS_GROUP
from services.checks.worker import ChecksHandler
from services.notify.worker import GROUP as NOTIFY_GROUP
from services.notify.worker import NotifyHandler
from tests.conftest import wait_for
from tests.e2e.own_stack import own_stack
from tests.unit.deploy_checks import promql

# The stack, a few hundred checks and their way through every stage: more than the default 300 s on a busy machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

JOBS = ("checks", "aggregate", "notify")  # the scrape jobs of deploy/prometheus.yml
GROUPS = {
    "checks": (CHECKS_GROUP, ChecksHandler.topics),
    "aggregate": (AGGREGATE_GROUP, AggregateHandler.topics),
    "notify": (NOTIFY_GROUP, NotifyHandler.topics),
}
GENERATED = 240  # `qc demo-checks`' generator: plausible checks from every demo site
PROMETHEUS = shutil.which("prometheus")


@dataclasses.dataclass(frozen=True)
class Family:
    """A metric family the issue asks for: its type, its labels, and which jobs expose it."""

    type: str
    labels: frozenset[str]
    jobs: tuple[str, ...] = JOBS


FAMILIES = {
    "qc_http_requests_total": Family("counter", frozenset({"service", "route", "method", "status"})),
    "qc_http_request_duration_seconds": Family("histogram", frozenset({"service", "route", "method"})),
    "qc_events_produced_total": Family("counter", frozenset({"topic"})),
    "qc_events_consumed_total": Family("counter", frozenset({"group", "topic", "outcome"})),
    "qc_deadletter_events_total": Family("counter", frozenset({"group", "topic"})),
    "qc_processing_errors_total": Family("counter", frozenset({"group", "kind"})),
    "qc_consumer_lag": Family("gauge", frozenset({"group", "topic", "partition"})),
    "qc_consumer_last_poll_timestamp_seconds": Family("gauge", frozenset({"group"})),
    "qc_consumer_ready": Family("gauge", frozenset({"group"})),
    "qc_pipeline_latency_seconds": Family("histogram", frozenset({"stage"})),
    "qc_submissions_total": Family("counter", frozenset({"outcome"}), ("checks",)),
    "qc_alerts_raised_total": Family("counter", frozenset({"rule", "severity"}), ("notify",)),
    "qc_notifications_total": Family("counter", frozenset({"channel", "outcome"}), ("notify",)),
    # They move only when the broker loses events (tests/integration/test_outbox.py, tests/e2e/test_supervisor.py).
    "qc_broker_log_losses_total": Family("counter", frozenset(), ("checks",)),
    "qc_outbox_republished_total": Family("counter", frozenset(), ("checks",)),
}

# (job, sample, label matchers as regular expressions): each must be larger after the load.
MOVES = [
    *[(job, "qc_http_requests_total", {"status": "2.."}) for job in JOBS],
    *[(job, "qc_http_requests_total", {"status": "4.."}) for job in JOBS],
    ("checks", "qc_http_requests_total", {"route": "/api/v1/submissions", "method": "POST", "status": "202"}),
    *[(job, "qc_http_request_duration_seconds_count", {"route": "/api/v1/.*"}) for job in JOBS],
    ("checks", "qc_events_produced_total", {"topic": TOPICS["received"]}),
    ("checks", "qc_events_produced_total", {"topic": TOPICS["validated"]}),
    ("checks", "qc_events_produced_total", {"topic": TOPICS["rejected"]}),
    ("aggregate", "qc_events_produced_total", {"topic": TOPICS["rollups"]}),
    ("notify", "qc_events_produced_total", {"topic": TOPICS["alerts"]}),
    *[(job, "qc_events_produced_total", {"topic": TOPICS["deadletter"]}) for job in JOBS],
    *[(job, "qc_events_consumed_total", {"group": GROUPS[job][0], "outcome": "processed"}) for job in JOBS],
    *[(job, "qc_events_consumed_total", {"group": GROUPS[job][0], "outcome": "deadlettered"}) for job in JOBS],
    *[(job, "qc_deadletter_events_total", {"group": GROUPS[job][0]}) for job in JOBS],
    *[(job, "qc_processing_errors_total", {"group": GROUPS[job][0], "kind": "poison"}) for job in JOBS],
    *[(job, "qc_consumer_last_poll_timestamp_seconds", {"group": GROUPS[job][0]}) for job in JOBS],
    ("checks", "qc_pipeline_latency_seconds_count", {"stage": "validated"}),
    ("aggregate", "qc_pipeline_latency_seconds_count", {"stage": "rollup_updated"}),
    ("notify", "qc_pipeline_latency_seconds_count", {"stage": "alert_raised"}),
    *[
        ("checks", "qc_submissions_total", {"outcome": outcome})
        for outcome in ("accepted", "repeat", "invalid", "unauthorised", "forbidden", "conflict")
        + ("validated", "rejected")
    ],
    ("notify", "qc_alerts_raised_total", {"rule": "urgent_concern", "severity": "critical"}),
    ("notify", "qc_alerts_raised_total", {"rule": "safety_not_good", "severity": "high"}),
    ("notify", "qc_alerts_raised_total", {"rule": "repeated_rejections", "severity": "info"}),
    ("notify", "qc_notifications_total", {"channel": "email", "outcome": "sent"}),
]

# Words a checker wrote, sent in the load: none may turn up in a label.
FREE_TEXT = {
    "comment": "The night staff shout at Mrs Jones in room 4",
    "working": "Bob takes me swimming on Tuesdays",
    "not_working": "Nobody fixed the shower for Alan",
    "urgent": "Someone comes into my room at night and I am frightened",
}


@dataclasses.dataclass
class Scrape:
    """One scrape of every job: family types and every sample's value."""

    types: dict[tuple[str, str], str]  # (job, family) -> type
    samples: dict[tuple[str, str, frozenset], float]  # (job, sample name, labels) -> value

    def series(self, job: str, name: str, **matchers: str) -> dict[frozenset, float]:
        """The samples called ``name`` on ``job`` whose labels fully match the regular expressions given."""
        return {
            labels: value
            for (j, n, labels), value in self.samples.items()
            if j == job
            and n == name
            and all(re.fullmatch(pattern, dict(labels).get(label, "")) for label, pattern in matchers.items())
        }

    def value(self, job: str, name: str, **matchers: str) -> float:
        """The sum of the matching samples (the largest for a timestamp gauge)."""
        found = self.series(job, name, **matchers).values()
        if name.endswith("_timestamp_seconds"):
            return max(found, default=0.0)
        return sum(found)

    def label_values(self) -> set[str]:
        """Every label value the services expose."""
        return {value for (_, _, labels) in self.samples for _, value in labels}


def scrape(urls: dict[str, str]) -> Scrape:
    """GET /metrics of every service and parse it as Prometheus would."""
    types, samples = {}, {}
    for job in JOBS:
        response = requests.get(f"{urls[job]}/metrics", timeout=10)
        response.raise_for_status()
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        for family in text_string_to_metric_families(response.text):
            types[(job, family.name)] = family.type
            for sample in family.samples:
                samples[(job, sample.name, frozenset(sample.labels.items()))] = sample.value
    return Scrape(types, samples)


def family_name(name: str, kind: str) -> str:
    """The family name the parser reports (counters without ``_total``)."""
    return name.removesuffix("_total") if kind == "counter" else name


def lag_partitions(result: Scrape, job: str) -> set[tuple[str, str]]:
    """The (topic, partition) pairs ``job``'s consumer group reports lag for."""
    group, _ = GROUPS[job]
    return {
        (dict(labels)["topic"], dict(labels)["partition"])
        for labels in result.series(job, "qc_consumer_lag", group=re.escape(group))
    }


def every_partition(job: str, partitions: int) -> set[tuple[str, str]]:
    """Every partition of every topic ``job``'s worker consumes."""
    return {(topic, str(p)) for topic in GROUPS[job][1] for p in range(partitions)}


# --- the load ---------------------------------------------------------------


@dataclasses.dataclass
class Load:
    """What was sent, for the settle conditions and the personal-data check."""

    accepted: int = 0
    secrets: set[str] = dataclasses.field(default_factory=set)


def _body(site_id: str, **changes) -> dict:
    body = {
        "submission_id": str(uuid.uuid4()),
        "site_id": site_id,
        "question_set": {"id": "everyday-life", "version": 1},
        "visited_on": dt.date.today().isoformat(),
        "answers": [
            {"question_id": "feel-safe", "score": 2, "comment": FREE_TEXT["comment"]},
            {"question_id": "listened-to", "score": 3, "comment": ""},
        ],
        "working": [FREE_TEXT["working"]],
        "not_working": [FREE_TEXT["not_working"]],
        "urgent_concern": None,
    }
    body.update(changes)
    return body


def generate_load(stack, creds: dict) -> Load:
    """`qc demo-checks`-style checks plus rejections, an urgent concern, bad requests and poison events."""
    urls, load = stack.urls(), Load()
    checkers = {c["site_id"]: c for c in creds["checkers"]}
    load.secrets |= {c[k] for c in creds["checkers"] for k in ("token", "checker_id", "site_id")}
    # Usernames only inside addresses: "admin" alone could be part of a route's name.
    load.secrets |= {m["password"] for m in creds["managers"] if m["password"]}
    load.secrets |= {f"{m['username']}@demo.qc.localhost" for m in creds["managers"]}
    load.secrets |= set(FREE_TEXT.values())
    session = requests.Session()

    def post(token: str, body, expected: int, new: bool = True) -> None:
        kwargs = {"json": body} if isinstance(body, dict) else {"data": body}
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        response = session.post(f"{urls['checks']}/api/v1/submissions", headers=headers, timeout=30, **kwargs)
        assert response.status_code == expected, response.text
        if isinstance(body, dict):
            load.secrets.add(body["submission_id"])
        load.accepted += expected == 202 and new  # a repeat is answered 202 too, but is the same check

    # The bulk: what `make run` users send with `qc demo-checks`, four at a time.
    generated = demo_checks.generate(creds, GENERATED, seed=6, today=dt.date.today())
    load.secrets |= {body["submission_id"] for _, body in generated}

    def send(item):
        token, body = item
        return requests.post(
            f"{urls['checks']}/api/v1/submissions", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(send, generated))
    assert statuses == [202] * GENERATED
    load.accepted += GENERATED

    # An urgent concern and a "not good" to a safety question: alerts, and e-mails sent at once.
    s1 = checkers["S0001"]["token"]
    urgent = _body("S0001", urgent_concern=FREE_TEXT["urgent"])
    urgent["answers"][0]["score"] = 1
    post(s1, urgent, 202)
    post(s1, urgent, 202, new=False)  # the phone retries: a repeat
    post(s1, {**urgent, "working": ["something else"]}, 409)  # same id, other check: a conflict
    # The same check sent three more times under new ids: the validator turns each back as a
    # duplicate of the first, once that one is validated; three from one checker raise "repeated rejections".
    s5 = checkers["S0005"]["token"]
    first = _body("S0005")
    post(s5, first, 202)

    def validated():
        r = session.get(
            f"{urls['checks']}/api/v1/submissions/{first['submission_id']}",
            headers={"Authorization": f"Bearer {s5}"},
            timeout=10,
        )
        return r.status_code == 200 and r.json()["status"] == "validated"

    wait_for(validated, 60, "the first check validated")
    for _ in range(3):
        post(s5, {**first, "submission_id": str(uuid.uuid4())}, 202)
    # Bad requests: each a 4xx with a problem document.
    post(s1, _body("S0001", answers=[]), 422)
    post(s1, b"{not json", 400)
    post(s1, _body("S0002"), 403)  # S0001's link, S0002's check
    post("not-a-token", _body("S0001"), 401)
    for job in JOBS:
        assert session.get(f"{urls[job]}/no-such-page", timeout=10).status_code == 404
    assert session.get(f"{urls['notify']}/api/v1/alerts", timeout=10).status_code == 401
    assert session.get(f"{urls['aggregate']}/api/v1/rollups/org", timeout=10).status_code == 401
    # A manager reads the roll-ups and the alerts.
    password = next(m["password"] for m in creds["managers"] if m["username"] == "rm-r01")
    token = session.post(
        f"{urls['checks']}/api/v1/auth/token", json={"username": "rm-r01", "password": password}, timeout=10
    ).json()["access_token"]
    load.secrets.add(token)
    manager = {"Authorization": f"Bearer {token}"}
    month = dt.date.today().strftime("%Y-%m")
    for site in ("S0001", "S0013"):
        url = f"{urls['aggregate']}/api/v1/rollups/sites/{site}?period={month}"
        assert session.get(url, headers=manager, timeout=10).status_code == 200
    assert session.get(f"{urls['notify']}/api/v1/alerts?site_id=S0001", headers=manager, timeout=10).status_code == 200
    # Poison: bytes that are no event, on every topic a worker reads checks from.
    producer = make_producer(stack.settings, "qc-tests")
    try:
        for topic in (TOPICS["received"], TOPICS["validated"]):
            producer.send(topic, key=b"poison", value=b"{this is not an event").get(timeout=10)
    finally:
        producer.close()
    return load


def pending(result: Scrape, load: Load, partitions: int) -> list[str]:
    """What has not gone through yet: checks decided and counted, poison dead-lettered, alerts e-mailed, lag."""
    validated = result.value("checks", "qc_submissions_total", outcome="validated")
    decided = validated + result.value("checks", "qc_submissions_total", outcome="rejected")
    conditions = {
        f"checks decided: {decided:g} of {load.accepted}": decided >= load.accepted,
        "roll-ups updated for every validated check": result.value(
            "aggregate", "qc_pipeline_latency_seconds_count", stage="rollup_updated"
        )
        >= validated,
        # Counted when the poison is met, produced once the broker acknowledged the dead letter (a flush later).
        "a dead letter from every group, acknowledged": all(
            result.value(job, "qc_deadletter_events_total") >= 1
            and result.value(job, "qc_events_produced_total", topic=TOPICS["deadletter"]) >= 1
            for job in JOBS
        ),
        "an urgent-concern alert": result.value("notify", "qc_alerts_raised_total", rule="urgent_concern") >= 1,
        "a repeated-rejections alert": result.value("notify", "qc_alerts_raised_total", rule="repeated_rejections")
        >= 1,
        "an e-mail sent": result.value("notify", "qc_notifications_total", channel="email", outcome="sent") >= 1,
        "lag for every partition": all(lag_partitions(result, job) == every_partition(job, partitions) for job in JOBS),
        "no lag left": all(value == 0 for job in JOBS for value in result.series(job, "qc_consumer_lag").values()),
    }
    return [what for what, done in conditions.items() if not done]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A running stack, a scrape before the load, the load, and a scrape once it has all gone through."""
    with own_stack(tmp_path_factory.mktemp("metrics-load")) as stack:
        credentials = stack.var_dir / "credentials.json"
        stack.run_cli("demo-seed", "--sites", "24", "--credentials", str(credentials))
        creds = json.loads(credentials.read_text())
        stack.start_services()
        stack.wait_ready(timeout=90)
        urls, partitions = stack.urls(), stack.settings.topic_partitions

        # "Before" is once every worker holds its partitions: lag is reported per partition owned.
        def started():
            result = scrape(urls)
            return result if all(lag_partitions(result, j) == every_partition(j, partitions) for j in JOBS) else None

        before = wait_for(started, 90, "every worker to report lag for each partition it consumes")
        load = generate_load(stack, creds)
        peak_lag = {job: 0.0 for job in JOBS}

        deadline = time.monotonic() + 180
        while True:
            after = scrape(urls)
            for job in JOBS:
                peak_lag[job] = max(peak_lag[job], after.value(job, "qc_consumer_lag"))
            waiting = pending(after, load, partitions)
            if not waiting:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the load has not gone through after 180 s; still waiting for: {waiting}")
            time.sleep(0.5)
        yield {"stack": stack, "before": before, "after": after, "load": load, "peak_lag": peak_lag}


# --- the tests --------------------------------------------------------------


def test_the_list_covers_every_metric_the_code_defines():
    """A metric added to the code must be added here (and so shown to move under load)."""
    defined = set()
    for name in promql.metric_modules():
        module = __import__(name, fromlist=["_"])
        defined |= {m.describe()[0].name for m in vars(module).values() if isinstance(m, MetricWrapperBase)}
    assert defined == {family_name(name, f.type) for name, f in FAMILIES.items()}


def test_every_metric_is_exposed_before_the_load_with_conventional_names(loaded):
    before = loaded["before"]
    problems = []
    for name, family in FAMILIES.items():
        base = family_name(name, family.type)
        if not name.startswith("qc_"):
            problems.append(f"{name}: no qc_ prefix")
        if (family.type == "counter") != name.endswith("_total"):
            problems.append(f"{name}: only counters, and every counter, end in _total")
        if family.type == "histogram" and not name.endswith(("_seconds", "_bytes")):
            problems.append(f"{name}: a histogram must be in a base unit (_seconds, _bytes)")
        if re.search(r"_(milli|micro)?(ms|msec|millis|minutes|hours|kilobytes|percent)(_|$)", name):
            problems.append(f"{name}: not a base unit")
        for job in family.jobs:
            kind = before.types.get((job, base))
            if kind != family.type:
                problems.append(f"{job}: {base} is {kind or 'missing'}, expected a {family.type}")
                continue
            suffix = {"counter": "_total", "histogram": "_count", "gauge": ""}[family.type]
            series = before.series(job, base + suffix)
            if not series:
                problems.append(f"{job}: {base} has no series")
            for labels in series:
                if {k for k, _ in labels} != family.labels:
                    problems.append(f"{job}: {base} has labels {sorted(k for k, _ in labels)}")
                    break
    assert problems == []


def test_every_metric_moves_under_load(loaded):
    before, after = loaded["before"], loaded["after"]
    rows, still = [("job", "metric", "before", "after")], []
    for job, name, matchers in MOVES:
        was, now = before.value(job, name, **matchers), after.value(job, name, **matchers)
        shown = f"{name}{{{', '.join(f'{k}=~{v!r}' for k, v in matchers.items())}}}"
        shape = ".1f" if name.endswith("_timestamp_seconds") else "g"
        rows.append((job, shown, f"{was:{shape}}", f"{now:{shape}}"))
        if not now > was:
            still.append(f"{job}: {shown}")
    for job in JOBS:
        rows.append(
            (job, "qc_consumer_lag (summed; the highest seen while loaded)", "0", f"{loaded['peak_lag'][job]:g}")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(
        "",
        *(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d:>{widths[3]}}" for a, b, c, d in rows),
        sep="\n",
    )
    assert still == []


def test_consumer_lag_is_reported_per_group_and_partition(loaded):
    partitions = loaded["stack"].settings.topic_partitions
    for result in (loaded["before"], loaded["after"]):
        for job in JOBS:
            assert lag_partitions(result, job) == every_partition(job, partitions)
            # One worker per group in `make run`: one series per partition, not per process.
            assert len(result.series(job, "qc_consumer_lag")) == len(every_partition(job, partitions))
    # Caught up (the settle condition) means every partition's lag reads zero.
    assert set(loaded["after"].series("notify", "qc_consumer_lag").values()) == {0.0}


def test_no_label_carries_free_text_or_personal_data(loaded):
    values = loaded["after"].label_values()
    secrets = {s for s in loaded["load"].secrets if len(s) >= 4}
    leaked = sorted(v for v in values if any(secret in v for secret in secrets))
    assert leaked == []
    # Label values are names from a small set: no spaces, no addresses, nothing long.
    odd = sorted(v for v in values if not re.fullmatch(r"[A-Za-z0-9_.:/<>+-]{0,64}", v))
    assert odd == []
    assert len(values) < 300, "label values should come from a small fixed set"


@pytest.mark.skipif(PROMETHEUS is None, reason="Debian's prometheus is not installed; the parser checks suffice")
def test_a_real_prometheus_scrapes_every_service(loaded, tmp_path):
    """deploy/prometheus.yml, pointed at this stack's ports, as ops will run it."""
    urls = loaded["stack"].urls()
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(ROOT / "deploy" / "prometheus-rules.yaml")]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [urls[job["job_name"]].removeprefix("http://")]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 (owned by the child)
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/-/ready"), 60, "prometheus", proc)

        def query(expr: str) -> list[dict]:
            body = requests.get(f"{api}/query", params={"query": expr}, timeout=10).json()
            assert body["status"] == "success", body
            return body["data"]["result"]

        up = wait_for(lambda: (r := query("up == 1")) and len(r) == len(JOBS) and r, 60, "every target up")
        assert {r["metric"]["job"] for r in up} == set(JOBS)
        # Each metric family reaches Prometheus under the job that exposes it.
        for name, family in FAMILIES.items():
            series = name + ("_count" if family.type == "histogram" else "")
            found = {r["metric"]["job"] for r in query(f"count by (job) ({series})")}
            assert found >= set(family.jobs), name
        # Prometheus reads the same figures as the parser (the load has gone through, so they are still).
        after = loaded["after"]
        for job, name, labels in (
            ("checks", "qc_submissions_total", {"outcome": "accepted"}),
            ("notify", "qc_alerts_raised_total", {"rule": "urgent_concern"}),
            ("aggregate", "qc_pipeline_latency_seconds_count", {"stage": "rollup_updated"}),
        ):
            matchers = ", ".join(f'{k}="{v}"' for k, v in labels.items())
            [result] = query(f'sum({name}{{job="{job}", {matchers}}})')
            assert float(result["value"][1]) == after.value(job, name, **labels), name
        lag = query("count by (group) (qc_consumer_lag)")
        partitions = loaded["stack"].settings.topic_partitions
        assert {r["metric"]["group"]: int(r["value"][1]) for r in lag} == {
            group: len(topics) * partitions for group, topics in GROUPS.values()
        }
        # The rules load and evaluate; with every worker running, the "not reporting" alert stays quiet.
        groups = requests.get(f"{api}/rules", timeout=10).json()["data"]["groups"]
        assert {g["name"] for g in groups} == {"qc-services", "qc-pipeline", "qc-notifications", "qc-processes"}

        def evaluated():
            groups = requests.get(f"{api}/rules", timeout=10).json()["data"]["groups"]
            return all(rule["health"] == "ok" for group in groups for rule in group["rules"])

        wait_for(evaluated, 30, "every rule evaluated without error")
        assert query('ALERTS{alertname="QcWorkerNotReporting"}') == []
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
