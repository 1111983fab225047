"""A service's web app, made the same way in every service: its settings, its publisher, its finishing touches.

Each service's ``bootstrap.create_app`` builds what is its own (its context, its
Jinja filters) between ``start`` and ``finish``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Blueprint, Flask
from kafka import KafkaProducer
from pymongo.database import Database

from qc import logs, manager_nav, mongo, readiness, web
from qc.kafka import Publisher
from qc.settings import Settings
from qc.standing import Standing


def start(
    import_name: str, service: str, config: dict | None, *, static: bool = False
) -> tuple[Flask, Settings, Database]:
    """The app (templates in its ``web/``), its checked settings (``config`` overrides them: tests), its database."""
    settings = Settings.from_env().replace(**(config or {})).checked()
    logs.setup(service, settings.log_level)
    db = mongo.connect(settings, f"qc-{service}-web")
    # Flask's own /static/<path> otherwise (nothing there): the same routes as before, behind the same proxy rules.
    app = Flask(import_name, template_folder="web/templates", **({"static_folder": "web/static"} if static else {}))
    # The managers' navigation, the same on every service's manager pages (qc/manager_nav.py).
    manager_nav.install(app, settings)
    return app, settings, db


def publisher(settings: Settings, service: str, source: str, producer: KafkaProducer | None = None) -> Publisher:
    """The web process's publisher; ``producer`` is a test's own client.

    linger 0: each event is sent alone and awaited before the answer (measured: docs/benchmarks.md).
    """
    if producer:
        return Publisher(producer, source=source, timeout=settings.kafka_ack_timeout_seconds)
    return Publisher.for_settings(settings, f"qc-{service}-web", source=source, linger_ms=0)


def finish(
    app: Flask,
    service: str,
    settings: Settings,
    db: Database,
    publisher: Publisher,
    standing: Standing,
    blueprints: Iterable[Blueprint],
    also_close: Iterable[Callable[[], None]] = (),
) -> Flask:
    """Health, readiness and metrics; its managers' standing; its blueprints, one by one; one close for it all."""
    also_close = tuple(also_close)

    def close():
        publisher.close()
        for extra in also_close:
            extra()
        db.client.close()

    app.extensions["qc.close"] = close
    app.extensions[web.STANDING] = standing
    checks = {"database": readiness.mongo_ready(db), "broker": readiness.kafka_ready(settings.kafka_bootstrap)}
    web.install(app, service, settings, checks)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app
