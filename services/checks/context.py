"""What checks' routes share: the context built once per process (bootstrap.py), and how a request reaches it."""

from __future__ import annotations

import dataclasses

from argon2 import PasswordHasher
from flask import current_app
from pymongo.database import Database

from qc.kafka import Publisher
from qc.settings import Settings
from services.checks.jobs.question_events import Teller
from services.checks.stores.directory import Directory
from services.checks.stores.question_sets import QuestionSets
from services.checks.stores.submissions import Submissions
from services.checks.stores.voice_links import VoiceLinks


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
    voice_links: VoiceLinks  # each site's own link for the key questions (web/voice_pages.py)
    question_teller: Teller  # a version of the questions tried or published, told to the others


def ctx() -> Context:
    """This app's context."""
    return current_app.extensions["qc.checks"]
