"""checks: the checker's form, the intake API and the directory's owner."""

from __future__ import annotations

import dataclasses

from argon2 import PasswordHasher
from flask import Flask
from kafka import KafkaProducer
from pymongo.database import Database

from qc import logs, manager_nav, mongo, periods, question_words, rate_limited, ratelimit, readiness, web
from qc.auth import password_hasher
from qc.kafka import Publisher
from qc.settings import Settings
from qc.standing import Standing
from services.checks import openapi as checks_openapi
from services.checks import question_drafting, question_events, training
from services.checks.directory import Directory
from services.checks.question_sets import QuestionSets, answer_options
from services.checks.question_versions import QuestionVersions
from services.checks.store import Submissions
from services.checks.voice_links import VoiceLinks


@dataclasses.dataclass
class Context:
    """What the routes need, built once per worker process."""

    settings: Settings
    db: Database
    publisher: Publisher
    directory: Directory
    submissions: Submissions
    question_sets: QuestionSets
    hasher: PasswordHasher  # managers' passwords (argon2id)
    voice_links: VoiceLinks  # each site's own link for the key questions (voice_pages.py)
    question_teller: question_events.Teller  # a version of the questions tried or published, told to the others


def create_app(config: dict | None = None, *, producer: KafkaProducer | None = None) -> Flask:
    """The checks web app; ``config`` overrides settings (tests)."""
    settings = Settings.from_env().replace(**(config or {})).checked()
    logs.setup("checks", settings.log_level)
    db = mongo.connect(settings, "qc-checks-web")
    # linger 0: each event is sent alone and awaited before the answer (measured: docs/benchmarks.md).
    publisher = (
        Publisher(producer, source="qc/checks/intake", timeout=settings.kafka_ack_timeout_seconds)
        if producer
        else Publisher.for_settings(settings, "qc-checks-web", source="qc/checks/intake", linger_ms=0)
    )
    training.names()  # a broken deploy/training.yaml stops the start, naming what is wrong
    question_words.learn(QuestionVersions(db).usable)  # every page says a question made with checkers in words
    app = Flask(__name__)
    # The managers' navigation, the same on every service's manager pages (qc/manager_nav.py).
    manager_nav.install(app, settings)
    app.extensions["qc.checks"] = Context(
        settings=settings,
        db=db,
        publisher=publisher,
        directory=Directory(db, settings.checker_link_idle_days),
        submissions=Submissions(db, themes_path=settings.themes_path, text_secret=settings.secret_key),
        question_sets=QuestionSets.load(settings.schemas_dir, QuestionVersions(db)),
        hasher=password_hasher(),
        voice_links=VoiceLinks(db),
        question_teller=question_events.Teller(publisher, QuestionVersions(db)),
    )

    def close():
        publisher.close()
        app.extensions["qc.checks"].submissions.close()
        db.client.close()

    app.extensions["qc.close"] = close
    app.extensions[web.STANDING] = Standing(app.extensions["qc.checks"].directory.manager_standing)
    app.extensions[rate_limited.EXTENSION] = ratelimit.RateLimiter(db, settings.secret_key)
    web.install(
        app,
        "checks",
        settings,
        {"database": readiness.mongo_ready(db), "broker": readiness.kafka_ready(settings.kafka_bootstrap)},
    )
    # check_screens and feedback add their routes to pages.bp when imported.
    from services.checks import (  # noqa: F401
        api,
        check_screens,
        feedback,
        involvement_pages,
        manager_auth,
        manager_checkers,
        manager_contributions,
        manager_links,
        manager_questions,
        manager_schedule,
        manager_voice_link,
        pages,
        recordings,
        voice_pages,
    )

    app.jinja_env.globals["answer_options"] = answer_options
    app.jinja_env.globals["credit_words"] = question_drafting.credit_words  # who shaped a version of the questions
    app.jinja_env.filters["period_words"] = periods.words  # "October to December 2026", not "2026-Q4"
    app.register_blueprint(api.bp)
    app.register_blueprint(checks_openapi.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(manager_auth.bp)
    app.register_blueprint(manager_contributions.bp)
    app.register_blueprint(manager_links.bp)
    app.register_blueprint(manager_checkers.bp)
    app.register_blueprint(manager_schedule.bp)
    app.register_blueprint(voice_pages.bp)
    app.register_blueprint(involvement_pages.bp)
    app.register_blueprint(manager_voice_link.bp)
    app.register_blueprint(manager_questions.bp)
    # Public like the page's own script and styles, and outside the blueprint's sign-in lookup.
    app.add_url_rule("/audio/<name>", "recording", recordings.serve)
    return app
