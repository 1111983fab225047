"""Fixtures: a real broker, database and SMTP sink on free ports, once per test session."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic

from qc import events
from qc.kafka import create_topics
from qc.settings import Settings
from qc_tools.devstack import Stack
from tests.stack_env import stack_env


def wait_for(condition, timeout: float = 30.0, what: str = "condition", interval: float = 0.1, detail=None):
    """Poll until ``condition()`` returns something truthy; fail the test with ``what`` at the deadline
    (and ``detail()``, what the condition last saw, when given)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f"; last seen {detail()}" if detail else ""
            pytest.fail(f"timed out after {timeout} s waiting for {what}{seen}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    """Broker, database and SMTP sink, started once for the whole session."""
    var = tmp_path_factory.mktemp("var")
    # The e2e tests sign in often, all from 127.0.0.1: the sign-in limit is off here
    # too; tests/integration/test_rate_limits.py sets its own.
    env = stack_env(var, QC_RATE_LIMIT_SIGNIN_PER_MINUTE="0")
    s = Stack(var, env)
    s.start_infrastructure(":memory:")
    create_topics(s.settings)
    yield s
    s.stop(timeout=10)


@pytest.fixture
def settings(stack) -> Settings:
    """Settings pointing at the session's stack, with a database of the test's own."""
    return stack.settings.replace(mongo_db=f"t_{uuid.uuid4().hex[:12]}")


def run_qc(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess:
    """The ``qc`` command run as an operator runs it, with ``env`` as its whole environment; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "qc_tools.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def mail_messages(stack: Stack) -> list:
    """Every e-mail the SMTP sink has received so far."""
    import email
    import email.policy

    maildir = Path(stack.var_dir) / "mail"
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in sorted(maildir.glob("*.eml"))
    ]


def new_topic(settings: Settings, prefix: str, partitions: int = 1) -> str:
    """A topic of the test's own, made first: Kafka as deployed makes no topic for a client that writes to one."""
    name = f"{prefix}.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="qc-tests")
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()
    return name


def read_topic(settings: Settings, topic: str, until, timeout: float = 30.0) -> list[dict]:
    """Events on ``topic`` (from the start) until ``until(events)`` is true."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=500,
    )
    seen: list[dict] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                for record in batch:
                    seen.append(json.loads(record.value))
            if until(seen):
                return seen
        pytest.fail(f"timed out reading {topic}: {len(seen)} events seen")
    finally:
        consumer.close()


def validate_all(raw_events: list[dict], schemas_dir) -> None:
    """Assert every event matches the envelope and its type's schema."""
    for event in raw_events:
        events.validate(event, schemas_dir=schemas_dir)


def manager_client(app, settings: Settings, **principal):
    """A test client of ``app`` signed in as a manager (their session cookie, as the sign-in page sets it)."""
    from qc import auth, web

    client = app.test_client()
    token = auth.issue_manager_token(settings.secret_key, auth.Principal(**principal))
    client.set_cookie(web.MANAGER_COOKIE, token)
    return client


def csrf_of(page) -> str:
    """The CSRF token of the form on a page (a Flask test response)."""
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
