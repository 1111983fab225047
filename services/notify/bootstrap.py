"""Wiring notify: the one place its collaborators are built from settings.

``create_app`` (gunicorn), ``run_worker`` (``python -m services.notify.worker``),
the CLI and the tests all build notify here. The rooms are those of every
service (``web/``, ``worker.py``, ``rules/``, ``stores/``, ``jobs/``) and one of
its own, ``delivery/``: e-mail, webhooks and notes to supporters.
"""

from __future__ import annotations

from flask import Flask
from kafka import KafkaProducer
from pymongo.database import Database

from qc import logs, manager_nav, mongo, periods, question_words, readiness, runner, web
from qc.kafka import Publisher
from qc.settings import Settings
from qc.standing import Standing
from services.notify import metrics as notify_metrics
from services.notify.context import Context
from services.notify.delivery.emails import Deliveries
from services.notify.delivery.mailer import Mailer
from services.notify.delivery.webhooks import Webhooks
from services.notify.jobs import retention, sending
from services.notify.jobs.schedule import Scheduler
from services.notify.jobs.sending import Sender
from services.notify.rules import alerts as alert_rules
from services.notify.rules.alerts import load_rules
from services.notify.stores.actions import Actions
from services.notify.stores.alerts import AlertStore
from services.notify.stores.audit import AuditLog
from services.notify.stores.fix_feedback import FixFeedback
from services.notify.stores.knowledge import Knowledge
from services.notify.stores.reports import Reports
from services.notify.stores.silences import Silences
from services.notify.web import action_pages, api, board_pages, pages, today_page
from services.notify.web import openapi as notify_openapi
from services.notify.worker import GROUP, NotifyHandler


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
    app = Flask(__name__, template_folder="web/templates")
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


def worker_handler(settings: Settings, db: Database, publisher: Publisher) -> NotifyHandler:
    """Everything the worker needs; stops at once if the rules file is wrong."""
    rules = alert_rules.load_rules(settings.alert_rules_path)
    notify_metrics.initialise(rules)
    store, knowledge, silences, feedback = AlertStore(db), Knowledge(db), Silences(db), FixFeedback(db)
    mailer = Mailer(settings.smtp_url, settings.mail_from, settings.smtp_timeout_seconds)
    deliveries = Deliveries(db, mailer, settings.notify_public_url)
    webhooks = Webhooks.load(db, settings)
    for part in (store, knowledge, silences, deliveries, webhooks, feedback, Reports(db)):
        part.ensure_indexes()
    question_words.learn(question_words.LearnedVersions(db, "notify").all)
    scheduler = Scheduler(settings, rules, db, mailer)
    # The sending thread has its own SMTP connection and webhook client; the loop's are the scheduler's.
    own_deliveries = Deliveries(
        db, Mailer(settings.smtp_url, settings.mail_from, settings.smtp_timeout_seconds), settings.notify_public_url
    )
    own_hooks = Webhooks.load(db, settings)
    sender = Sender(lambda: sending.send_due(own_deliveries, own_hooks, store.get)).start()
    return NotifyHandler(
        rules, store, knowledge, deliveries, silences, publisher, webhooks, scheduler, feedback, sender=sender
    )


def run_worker() -> None:
    """Run the notification worker until SIGTERM."""
    runner.run_worker("notify", GROUP, worker_handler, jobs=[retention.job])
