"""notify: alert rules, alerts, their delivery, and managers' responses."""

from __future__ import annotations

from flask import Flask
from kafka import KafkaProducer

from qc import logs, manager_nav, mongo, periods, question_words, readiness, web
from qc.kafka import Publisher
from qc.settings import Settings
from qc.standing import Standing
from services.notify import action_pages, api, board_pages, pages, today_page
from services.notify import openapi as notify_openapi
from services.notify.actions import Actions
from services.notify.audit import AuditLog
from services.notify.context import Context
from services.notify.feedback import FixFeedback
from services.notify.reports import Reports
from services.notify.rules import load_rules
from services.notify.silences import Silences
from services.notify.store import AlertStore


def create_app(config: dict | None = None, *, producer: KafkaProducer | None = None) -> Flask:
    """The notify web app; ``config`` overrides settings (tests)."""
    settings = Settings.from_env().replace(**(config or {})).checked()
    logs.setup("notify", settings.log_level)
    db = mongo.connect(settings, "qc-notify-web")
    question_words.learn(question_words.LearnedVersions(db, "notify").all)  # made with checkers (from qc.questions)
    # linger 0: each event is sent alone and awaited before the answer (measured: docs/benchmarks.md).
    publisher = (
        Publisher(producer, source="qc/notify", timeout=settings.kafka_ack_timeout_seconds)
        if producer
        else Publisher.for_settings(settings, "qc-notify-web", source="qc/notify", linger_ms=0)
    )
    app = Flask(__name__)
    # The managers' navigation, the same on every service's manager pages (qc/manager_nav.py).
    manager_nav.install(app, settings)
    app.jinja_env.filters["period_words"] = periods.words  # "November 2026", not "2026-11"
    rules = load_rules(settings.alert_rules_path)
    app.extensions["qc.notify"] = Context(
        settings,
        AlertStore(db),
        Silences(db),
        db["deliveries"],
        db["notify_sites"],
        publisher,
        contacts=db["contacts"],
        feedback=FixFeedback(db),
        actions=Actions(db),
        regions=db["notify_regions"],
        reports=Reports(db),
        safety_rules=frozenset(r.id for r in rules if r.safety),
    )

    app.extensions["qc.audit"] = AuditLog(db)

    def close():
        publisher.close()
        db.client.close()

    app.extensions["qc.close"] = close
    app.extensions[web.STANDING] = Standing(lambda username: db["contacts"].find_one({"username": username}))
    web.install(
        app,
        "notify",
        settings,
        {"database": readiness.mongo_ready(db), "broker": readiness.kafka_ready(settings.kafka_bootstrap)},
    )
    app.register_blueprint(api.bp)
    app.register_blueprint(notify_openapi.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(board_pages.bp)
    app.register_blueprint(today_page.bp)
    app.register_blueprint(action_pages.bp)
    return app
