"""Wiring checks: the one place its collaborators are built from settings.

``create_app`` (gunicorn), ``run_worker`` (``python -m services.checks.worker``),
the CLI and the tests all build checks here, so a collaborator added once is
added everywhere. The rooms: ``web/`` pages and the API, ``worker.py`` the
consumer handler, ``rules/`` pure decisions, ``stores/`` one owner per
collection, ``jobs/`` work beside the requests and the loop.
"""

from __future__ import annotations

import logging

from flask import Flask
from kafka import KafkaProducer, TopicPartition
from pymongo.database import Database

from qc import (
    periods,
    question_words,
    rate_limited,
    ratelimit,
    runner,
    web_app,
)
from qc.auth import password_hasher
from qc.kafka import Publisher
from qc.settings import TOPICS, Settings
from qc.standing import Standing
from services.checks import metrics as checks_metrics
from services.checks.context import Context
from services.checks.jobs import question_events, retention
from services.checks.jobs.directory_events import publish_all
from services.checks.rules import question_drafting, training
from services.checks.stores.directory import Directory
from services.checks.stores.outbox import Outbox
from services.checks.stores.question_sets import QuestionSets, answer_options
from services.checks.stores.question_versions import QuestionVersions
from services.checks.stores.submissions import Submissions
from services.checks.stores.voice_links import VoiceLinks
from services.checks.web import (
    api,
    check_screens,
    checker_session,
    involvement_pages,
    is_it_better,
    manager_auth,
    manager_checkers,
    manager_contributions,
    manager_links,
    manager_questions,
    manager_schedule,
    manager_voice_link,
    openapi,
    pages,
    question_review,
    recognition,
    recordings,
    send_again,
    voice_pages,
    worried,
)
from services.checks.worker import GROUP, ChecksHandler

log = logging.getLogger(__name__)
# The checker's pages share one blueprint (checker_session.bp): each of these modules adds its routes to it
# when imported, so all are imported here, before the blueprint is registered (Flask refuses later routes).
CHECKER_PAGES = (pages, check_screens, worried, is_it_better, recognition, send_again, question_review)
# Every other blueprint, each registered by itself.
BLUEPRINTS = (
    api,
    openapi,
    manager_auth,
    manager_contributions,
    manager_links,
    manager_checkers,
    manager_schedule,
    voice_pages,
    involvement_pages,
    manager_voice_link,
    manager_questions,
)


def web_context(settings: Settings, db: Database, publisher: Publisher) -> Context:
    """What the routes need, from settings, the database and a publisher."""
    return Context(
        settings=settings,
        db=db,
        publisher=publisher,
        directory=Directory.for_settings(settings, db),
        submissions=Submissions(db, themes_path=settings.themes_path, text_secret=settings.secret_key),
        question_sets=QuestionSets.load(settings.schemas_dir, QuestionVersions(db)),
        hasher=password_hasher(),
        voice_links=VoiceLinks(db),
        question_teller=question_events.Teller(publisher, QuestionVersions(db)),
    )


def create_app(config: dict | None = None, *, producer: KafkaProducer | None = None) -> Flask:
    """The checks web app; ``config`` overrides settings (tests), ``producer`` the broker client (tests)."""
    app, settings, db = web_app.start(__name__, "checks", config, static=True)
    publisher = web_app.publisher(settings, "checks", "qc/checks/intake", producer)
    training.names()  # a broken deploy/training.yaml stops the start, naming what is wrong
    question_words.learn(QuestionVersions(db).usable)  # every page says a question made with checkers in words
    context = app.extensions["qc.checks"] = web_context(settings, db, publisher)
    app.extensions[rate_limited.EXTENSION] = ratelimit.RateLimiter(db, settings.secret_key)
    app.jinja_env.globals["answer_options"] = answer_options
    app.jinja_env.globals["credit_words"] = question_drafting.credit_words  # who shaped a version of the questions
    app.jinja_env.filters["period_words"] = periods.words  # "October to December 2026", not "2026-Q4"
    # The checker's pages are one blueprint; each module in CHECKER_PAGES added its routes to it when imported.
    blueprints = [checker_session.bp, *(module.bp for module in BLUEPRINTS)]
    standing = Standing(context.directory.manager_standing)
    web_app.finish(app, "checks", settings, db, publisher, standing, blueprints, also_close=[context.submissions.close])
    # Public like the page's own script and styles, and outside the blueprint's sign-in lookup.
    app.add_url_rule("/audio/<name>", "recording", recordings.serve)
    return app


def ensure_indexes(db: Database) -> None:
    """The indexes of the collections the worker writes."""
    Directory(db).ensure_indexes()
    Submissions(db).ensure_indexes()
    Outbox(db).ensure_indexes()
    QuestionVersions(db).ensure_indexes()


def worker_handler(settings: Settings, db: Database, publisher: Publisher) -> ChecksHandler:
    """The validator's handler, its indexes made and its outbox watch started."""
    checks_metrics.initialise()
    ensure_indexes(db)
    question_words.learn(QuestionVersions(db).usable)  # "not good" to a question made with checkers, in words
    log_lost = publish_directory_if_missing(settings, db, publisher)
    handler = ChecksHandler(settings, db, publisher)
    # A directory to publish again means the broker lost its log (unless this is the very first start).
    handler.outbox_watch.log_lost_at_start = log_lost
    handler.outbox_watch.start()
    return handler


def publish_directory_if_missing(settings: Settings, db: Database, publisher: Publisher) -> bool:
    """Send the directory when the topic is empty (the embedded broker keeps no log across restarts); True if sent."""
    consumer = runner.make_probe_consumer(settings)
    try:
        partitions = consumer.partitions_for_topic(TOPICS["directory"]) or set()
        ends = consumer.end_offsets([TopicPartition(TOPICS["directory"], p) for p in partitions])
    finally:
        consumer.close()
    if sum(ends.values()) != 0:
        return False
    count = publish_all(Directory(db), publisher, settings.secret_key)
    log.info("directory published", extra={"entities": count})
    return count > 0


def run_worker() -> None:
    """Run the checks worker until SIGTERM."""
    runner.run_worker("checks", GROUP, worker_handler, jobs=[retention.job, question_events.job])
