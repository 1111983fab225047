"""All configuration, read from QC_* environment variables in one place.

Nothing else in the code base reads ``os.environ``; services receive a
``Settings`` object and tests build one with ``Settings.from_env({...})``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Everything that proves who someone is (manager tokens, board links, CSRF
# tokens, anonymised ids) is signed with QC_SECRET_KEY, so a guessable key
# lets anyone act as the safeguarding lead. Services refuse to start with a
# key shorter than this, unless QC_DEV_MODE says it is a developer's machine.
MIN_SECRET_KEY_LENGTH = 32
# Used only under QC_DEV_MODE when no key is set; public, so refused otherwise.
DEV_SECRET_KEY = "dev-only-secret-change-me"


class InsecureSettings(RuntimeError):
    """The settings would let anyone sign tokens; the message says what to set."""


TOPICS = {
    "received": "qc.submissions.received",
    "validated": "qc.submissions.validated",
    "rejected": "qc.submissions.rejected",
    "rollups": "qc.rollups.updated",
    "alerts": "qc.alerts",
    "directory": "qc.directory",
    "deadletter": "qc.deadletter",
    # A checker's answer to "is it better now?" after an alert is resolved.
    "feedback": "qc.feedback",
    # What managers will do about what people said, each change of it (shown on the checkers' My checks).
    "actions": "qc.actions",
    # Right-of-reply reports' state (drafts to reply to, ready to publish): the managers' home page lists them.
    "reports": "qc.reports",
    # Each version of the questions made with checkers (tried, published): others learn its questions' words.
    "questions": "qc.questions",
}

# The three services, each a web app and a Kafka worker.
SERVICES = ("checks", "aggregate", "notify")

# Each worker's consumer group and the topics it reads (its Handler.topics; a unit test keeps them equal).
GROUP_TOPICS = {
    "qc-checks": (TOPICS["received"], TOPICS["alerts"], TOPICS["actions"]),
    "qc-aggregate": (
        TOPICS["validated"],
        TOPICS["directory"],
        TOPICS["feedback"],
        TOPICS["actions"],
        TOPICS["questions"],
    ),
    "qc-notify": (
        TOPICS["validated"],
        TOPICS["rejected"],
        TOPICS["rollups"],
        TOPICS["directory"],
        TOPICS["feedback"],
        TOPICS["reports"],
        TOPICS["questions"],
    ),
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Typed configuration; field ``x`` is read from env ``QC_X``."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    mongo_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongo_db: str = "qc"
    smtp_url: str = "smtp://127.0.0.1:1025"
    bind_host: str = "127.0.0.1"
    checks_port: int = 8001
    aggregate_port: int = 8002
    notify_port: int = 8003
    # Where people reach the services (links in e-mails and sign-in links).
    checks_public_url: str = "http://127.0.0.1:8001"
    aggregate_public_url: str = "http://127.0.0.1:8002"
    notify_public_url: str = "http://127.0.0.1:8003"
    # The organisation's name as it appears on a checker's printable record of their contribution (a CV line).
    organisation_name: str = "Example Care"
    # Required, at least MIN_SECRET_KEY_LENGTH characters (`make run` makes one in var/secret-key).
    secret_key: str = ""
    # A developer's own machine only: allows a short or missing secret key (then the public DEV_SECRET_KEY).
    dev_mode: bool = False
    token_ttl_seconds: int = 8 * 3600
    # A manager's page session ends after this many minutes without use (the API's bearer tokens do not idle).
    manager_idle_minutes: int = 30
    # A checker's sign-in link that nobody has used for this many days stops working (0: never).
    checker_link_idle_days: int = 180
    topic_partitions: int = 6
    # Copies of each partition, on different brokers (1 for one broker; 3 for a cluster of three), and how
    # many must have an event before the broker acknowledges it (0: one fewer than the copies, at least 1).
    # Every other topic setting is in qc/topics.py.
    topic_replication_factor: int = 1
    topic_min_insync_replicas: int = 0
    # Tansu holds a new group member for about half the session timeout,
    # so a short one makes start-up quick (6 s: a join in about 3 s, measured).
    kafka_session_timeout_ms: int = 6000
    kafka_ack_timeout_seconds: float = 10.0
    # How long a worker's producer waits to put more events in one request to the
    # broker (web processes use 0: they wait for each event's acknowledgement).
    kafka_linger_ms: int = 5
    # Named rather than probed: probing blocks client construction for 30 s
    # when the broker is down, and a web worker must start (and report 503
    # on /readyz) without it. Apache Kafka 3.9 and Tansu 0.6 both speak it.
    kafka_api_version: str = "3.9"
    consumer_poll_ms: int = 500
    consumer_max_records: int = 500
    # How long a worker whose handler holds state in memory (aggregate's region and organisation
    # sums) may hold back its commit: that state is written, then the offsets committed, at most
    # this often, so a crash replays at most this much, and the state is rebuilt from the replay.
    commit_interval_ms: int = 1000
    # How long the broker holds a fetch open waiting for new events: the
    # latency of every hop when traffic is light. Measured against the
    # embedded broker at 100 events/s (docs/benchmarks.md, sixth round):
    # 500 ms (kafka-python's default) gives hop p50/p99 138/264 ms; 50 ms
    # 18/34 ms for 0.04 of a core per idle consumer; 20 ms 14/24 ms for 0.09.
    consumer_fetch_wait_ms: int = 50
    visit_window_days: int = 90
    timezone: str = "Europe/London"
    max_body_bytes: int = 64 * 1024
    mail_from: str = "Quality Checks <alerts@qc.localhost>"
    smtp_timeout_seconds: float = 10.0
    # notify's schedule: escalations, digests and silence reminders are
    # looked at every scheduler_interval_seconds; overdue sites less often.
    scheduler_interval_seconds: float = 30.0
    overdue_check_seconds: float = 3600.0
    digest_hour: int = 8
    silence_reminder_hours: int = 24
    log_level: str = "INFO"
    web_workers: int = 2
    # Threads per web process, sized by measurement (docs/benchmarks.md, eleventh round): a request spends
    # most of its time waiting for the database and the broker, and the requests in flight share their
    # inserts (qc/mongo.py GroupInsert), so 16 served ~1.5x what 4 did on 2 cores, with fewer database requests.
    web_threads: int = 16
    # On SIGTERM a web worker answers 503 on /readyz for this long, still
    # serving, so a load balancer stops sending it requests before it stops
    # accepting them; then it finishes what is in flight (qc_tools/gunicorn_conf.py).
    shutdown_drain_seconds: float = 2.0
    var_dir: Path = ROOT / "var"
    schemas_dir: Path = ROOT / "schemas"
    # Recordings of the questions and answers for Read aloud where a phone has no voice (checks/web/recordings.py).
    audio_dir: Path = ROOT / "var" / "audio"
    alert_rules_path: Path = ROOT / "deploy" / "alert-rules.yaml"
    themes_path: Path = ROOT / "deploy" / "themes.yaml"
    webhooks_path: Path = ROOT / "deploy" / "webhooks.yaml"
    # "hook-id=secret,other=secret"; secrets never live in files in the repo.
    webhook_secrets: str = ""
    # Rate limits, requests per minute (0 turns one off; qc/ratelimit.py). Sends
    # and saves are counted in each web process, sign-ins in MongoDB (shared by
    # every process). Submissions: per checker token and per address (a care
    # home's wifi is one address for all).
    rate_limit_submissions_per_minute: int = 30
    rate_limit_submissions_per_address_per_minute: int = 300
    # Manager sign-in (API token and page), per address: password guessing.
    rate_limit_signin_per_minute: int = 10
    # The form's own saves (starting a check, each screen without JavaScript), per phone: each is a database write.
    rate_limit_form_saves_per_minute: int = 120
    # Answers through a site's own link (the key questions, by anyone supported there), per site, shared.
    rate_limit_voices_per_site_per_minute: int = 5
    # How many proxies in front add X-Forwarded-For (nginx in docker-compose: 1);
    # 0 trusts no header and uses the connection's address.
    trusted_proxy_hops: int = 0
    # MongoDB: how long an operation waits for an unreachable server before it
    # fails (web answers 503, workers back off and retry), and for a server
    # that accepted the request but does not answer (0: no limit).
    mongo_timeout_ms: int = 3000
    mongo_socket_timeout_ms: int = 60000
    # Submissions older than this many days (by when they were received) lose
    # their free text and checker identity; the counts stay. 0 keeps them forever.
    retention_days: int = 730
    # How often each worker runs its service's retention (seconds; 0: never, `qc retention run` only).
    retention_interval_seconds: float = 86400.0
    # Staff team feedback shows a question's figures for a month only when at least this many
    # different checkers answered it (services/aggregate/web/team_feedback.py).
    team_feedback_min_answers: int = 3
    # A region's periodic report stays a draft for site managers' replies this many working days
    # (weekends and deploy/bank-holidays.yaml skipped) before it may be published (aggregate/right_of_reply.py).
    report_reply_working_days: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: the process environment)."""
        env = os.environ if env is None else env
        values = {}
        for field in dataclasses.fields(cls):
            raw = env.get("QC_" + field.name.upper())
            if raw is None:
                continue
            values[field.name] = _convert(field, raw)
        return cls(**values)

    def replace(self, **changes) -> Settings:
        """A copy with some fields changed (tests and create_app overrides)."""
        return dataclasses.replace(self, **changes)

    def checked(self) -> Settings:
        """These settings if safe to serve with (fail closed); InsecureSettings naming what to set if not."""
        key = self.secret_key
        if self.dev_mode:
            return self if key else self.replace(secret_key=DEV_SECRET_KEY)
        if not key:
            problem = "QC_SECRET_KEY is not set"
        elif key == DEV_SECRET_KEY:
            problem = "QC_SECRET_KEY is the public development key"
        elif len(key) < MIN_SECRET_KEY_LENGTH:
            problem = f"QC_SECRET_KEY is {len(key)} characters long; it must be at least {MIN_SECRET_KEY_LENGTH}"
        else:
            return self
        raise InsecureSettings(
            f"{problem}. Anyone who can guess it can sign in as any manager. Set it to a long random value, "
            "the same for every service (python3 -c 'import secrets; print(secrets.token_urlsafe(48))'), "
            "or set QC_DEV_MODE=1 on a developer's own machine."
        )

    @property
    def kafka_api_tuple(self) -> tuple[int, ...]:
        """``kafka_api_version`` as kafka-python wants it."""
        return tuple(int(part) for part in self.kafka_api_version.split("."))

    @property
    def webhook_secret_map(self) -> dict[str, str]:
        """``webhook_secrets`` as {hook id: secret}."""
        pairs = (item.split("=", 1) for item in self.webhook_secrets.split(",") if "=" in item)
        return {k.strip(): v.strip() for k, v in pairs}

    @property
    def multiproc_dir(self) -> str | None:
        """prometheus-client's multiprocess directory, when one is in use."""
        return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


_KIND_WORDS = {"bool": "1 or 0 (true or false)"}


def _convert(field: dataclasses.Field, raw: str):
    kind = field.type if isinstance(field.type, str) else field.type.__name__
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
        if kind == "bool":
            if raw.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if raw.strip().lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
    except ValueError as e:
        raise ValueError(f"QC_{field.name.upper()} must be {_KIND_WORDS.get(kind, 'a ' + kind)}, got {raw!r}") from e
    return raw
