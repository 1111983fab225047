"""Wiring aggregate: the one place its collaborators are built from settings.

``create_app`` (gunicorn), ``run_worker`` (``python -m services.aggregate.worker``),
the CLI and the tests all build aggregate here. The rooms are those of every
service: ``web/`` pages and the API, ``worker.py`` the consumer handler,
``rules/`` pure decisions, ``stores/`` one owner per collection, ``jobs/`` work
beside the requests and the loop.
"""

from __future__ import annotations

import functools

from flask import Flask, g
from pymongo.database import Database

from qc import (
    dates,
    metrics,
    periods,
    question_words,
    runner,
    text_keys,
    web_app,
)
from qc.kafka import Publisher
from qc.key_questions import load_questions
from qc.settings import ROOT, Settings
from qc.standing import Standing
from qc.themes import load_themes
from services.aggregate.context import Context
from services.aggregate.jobs import report_events, retention
from services.aggregate.rules import workdays
from services.aggregate.stores.actions import SiteActions
from services.aggregate.stores.answerers import Answerers
from services.aggregate.stores.control import ReplayControl
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.fix_feedback import Feedback
from services.aggregate.stores.right_of_reply import RightOfReply
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.stores.voices import Voices
from services.aggregate.web import api, charts, pages, report_pages, team_feedback, texts
from services.aggregate.web import openapi as aggregate_openapi
from services.aggregate.web.reports import Reports
from services.aggregate.web.texts import Texts
from services.aggregate.worker import GROUP, AggregateHandler


def web_context(settings: Settings, db: Database, publisher: Publisher, directory: SiteDirectory) -> Context:
    """What the routes need; stops at once if a setting or a deploy file is wrong."""
    if settings.team_feedback_min_answers < 1:
        raise ValueError("QC_TEAM_FEEDBACK_MIN_ANSWERS must be 1 or more")
    if settings.report_reply_working_days < 0:
        raise ValueError("QC_REPORT_REPLY_WORKING_DAYS must be 0 or more")
    store, theme_list = RollupStore(db), load_themes(settings.themes_path)
    key_questions = load_questions()  # a broken deploy/team-feedback.yaml stops the start, naming what is wrong
    reports = Reports(store, directory, theme_list)
    holidays = workdays.load_bank_holidays(ROOT / "deploy" / "bank-holidays.yaml")
    return Context(
        settings,
        directory,
        reports,
        Texts(store.facts, directory, theme_list, Answerers(db), settings.team_feedback_min_answers),
        team_feedback.TeamFeedback(
            store, Answerers(db), key_questions, settings.team_feedback_min_answers, voices=Voices(db)
        ),
        RightOfReply(
            db,
            reports,
            holidays,
            settings.report_reply_working_days,
            settings.timezone,
            tell=report_events.Teller(publisher, db["agg_reports"]),
        ),
        SiteActions(db),
    )


def create_app(config: dict | None = None) -> Flask:
    """The aggregate web app; ``config`` overrides settings (tests)."""
    app, settings, db = web_app.start(__name__, "aggregate", config)
    # Reports' changes are told to notify (jobs/report_events.py).
    publisher = web_app.publisher(settings, "aggregate", "qc/aggregate")
    directory = SiteDirectory(db)
    # Words, not codes, wherever a manager reads: a question's words, a region's name, a period in words.
    app.jinja_env.filters["question"] = functools.partial(question_words.text, schemas_dir=settings.schemas_dir)
    question_words.learn(question_words.LearnedVersions(db, "agg").all)  # made with checkers (from qc.questions)
    app.jinja_env.globals["region_name"] = _region_name(directory)
    app.jinja_env.globals["theme_bars"] = charts.theme_bars  # themes as bars (macros.themes_table)
    app.jinja_env.filters["period_words"] = periods.words
    app.jinja_env.filters["day_words"] = dates.day_words  # "Thursday 10 December"
    app.jinja_env.globals["notify_url"] = settings.notify_public_url.rstrip("/")  # actions are made there
    # An action about one "not working" text is linked by the text's key, never its words (qc/text_keys.py).
    app.jinja_env.filters["text_key"] = functools.partial(text_keys.text_key, secret=settings.secret_key)
    app.jinja_env.globals["NOT_WORKING"] = texts.QUESTIONS["not_working"]
    app.extensions["qc.aggregate"] = web_context(settings, db, publisher, directory)

    blueprints = [api.bp, aggregate_openapi.bp, pages.bp, report_pages.bp]
    return web_app.finish(app, "aggregate", settings, db, publisher, Standing(directory.manager), blueprints)


def _region_name(directory: SiteDirectory):
    """``region_name(id)`` for the templates: the directory's name, read once a request ("Region R01" if none)."""

    def region_name(region_id: str | None) -> str:
        if "region_names" not in g:
            g.region_names = directory.region_names()
        return g.region_names.get(region_id) or f"Region {region_id}"

    return region_name


def ensure_indexes(db: Database) -> None:
    """The indexes of the collections the worker writes."""
    for store in (RollupStore(db), SiteDirectory(db), Feedback(db), SiteActions(db), Voices(db), Answerers(db)):
        store.ensure_indexes()


def worker_handler(settings: Settings, db: Database, publisher: Publisher) -> AggregateHandler:
    """The aggregation handler, its indexes made; it alone writes roll-ups, so it keeps sums between polls."""
    metrics.initialise_latency("rollup_updated")
    ensure_indexes(db)
    question_words.learn(question_words.LearnedVersions(db, "agg").all)
    return AggregateHandler(RollupStore(db), SiteDirectory(db), publisher, ReplayControl(db), defer_sums=True)


def run_worker() -> None:
    """Run the aggregation worker until SIGTERM."""
    runner.run_worker("aggregate", GROUP, worker_handler, jobs=[retention.job, report_events.job])
