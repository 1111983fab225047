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

from qc import periods, question_words, runner, web_app
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


def web_context(settings: Settings, db: Database, publisher: Publisher) -> Context:
    """What the routes need; stops at once if the rules file is wrong."""
    rules = load_rules(settings.alert_rules_path)
    return Context(
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


def create_app(config: dict | None = None, *, producer: KafkaProducer | None = None) -> Flask:
    """The notify web app; ``config`` overrides settings (tests)."""
    app, settings, db = web_app.start(__name__, "notify", config)
    question_words.learn(question_words.LearnedVersions(db, "notify").all)  # made with checkers (from qc.questions)
    publisher = web_app.publisher(settings, "notify", "qc/notify", producer)
    app.jinja_env.filters["period_words"] = periods.words  # "November 2026", not "2026-11"
    app.extensions["qc.notify"] = web_context(settings, db, publisher)
    app.extensions["qc.audit"] = AuditLog(db)

    standing = Standing(lambda username: db["contacts"].find_one({"username": username}))
    blueprints = [api.bp, notify_openapi.bp, pages.bp, board_pages.bp, today_page.bp, action_pages.bp]
    return web_app.finish(app, "notify", settings, db, publisher, standing, blueprints)


def worker_handler(
    settings: Settings,
    db: Database,
    publisher: Publisher,
    *,
    webhooks: Webhooks | None = None,
    scheduled: bool = True,
    sending_thread: bool = True,
) -> NotifyHandler:
    """Everything the worker needs; stops at once if the rules file is wrong.

    Tests give their own ``webhooks``, may leave out the timed work (``scheduled``), and send on the
    loop (no ``sending_thread``: what is due goes at the end of each batch, so a test sees it at once).
    """
    rules = alert_rules.load_rules(settings.alert_rules_path)
    notify_metrics.initialise(rules)
    store, knowledge, silences, feedback = AlertStore(db), Knowledge(db), Silences(db), FixFeedback(db)
    mailer = Mailer(settings.smtp_url, settings.mail_from, settings.smtp_timeout_seconds)
    deliveries = Deliveries(db, mailer, settings.notify_public_url)
    webhooks = Webhooks.load(db, settings) if webhooks is None else webhooks
    for part in (store, knowledge, silences, deliveries, webhooks, feedback, Reports(db)):
        part.ensure_indexes()
    question_words.learn(question_words.LearnedVersions(db, "notify").all)
    scheduler = Scheduler(settings, rules, db, mailer) if scheduled else None
    sender = None
    if sending_thread:
        # The sending thread has its own SMTP connection and webhook client; the loop's are the scheduler's.
        own_deliveries = Deliveries(
            db, Mailer(settings.smtp_url, settings.mail_from, settings.smtp_timeout_seconds), settings.notify_public_url
        )
        own_hooks = Webhooks(db, webhooks.hooks, webhooks.timeout)
        sender = Sender(lambda: sending.send_due(own_deliveries, own_hooks, store.get_many)).start()
    return NotifyHandler(
        rules, store, knowledge, deliveries, silences, publisher, webhooks, scheduler, feedback, sender=sender
    )


def run_worker() -> None:
    """Run the notification worker until SIGTERM."""
    runner.run_worker("notify", GROUP, worker_handler, jobs=[retention.job])
