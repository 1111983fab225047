"""aggregate: roll-ups per site, region and period for managers."""

from __future__ import annotations

from flask import Flask

from qc import logs, mongo, web
from qc.settings import Settings
from services.aggregate import api, pages
from services.aggregate.context import Context
from services.aggregate.directory import SiteDirectory
from services.aggregate.reports import Reports
from services.aggregate.store import RollupStore
from services.aggregate.themes import load_themes


def create_app(config: dict | None = None) -> Flask:
    """The aggregate web app; ``config`` overrides settings (tests)."""
    settings = Settings.from_env().replace(**(config or {}))
    logs.setup("aggregate", settings.log_level)
    db = mongo.connect(settings, "qc-aggregate-web")
    directory = SiteDirectory(db)
    app = Flask(__name__)
    app.extensions["qc.aggregate"] = Context(
        settings, directory, Reports(RollupStore(db), directory, load_themes(settings.themes_path))
    )
    app.extensions["qc.close"] = db.client.close
    web.install(
        app,
        "aggregate",
        settings,
        {"database": web.mongo_ready(db), "broker": web.kafka_ready(settings.kafka_bootstrap)},
    )
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    return app
