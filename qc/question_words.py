"""The questions' wording, so every page, alert and board says the question, not its id.

Two sources: the versions published with the code (``schemas/question-sets``), and the versions made with
checkers on checks' pages since, which each service learns (checks from its own records, aggregate and
notify from ``qc.questions``) and gives here with ``learn``. A published version's words win over older
ones; a version only tried (a pilot, perhaps stopped) gives words only to questions no published version
has, since checks were answered with them.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pymongo.database import Database
from pymongo.errors import PyMongoError

from qc import events
from qc.mongo import keep_latest
from qc.settings import ROOT

log = logging.getLogger(__name__)
REFRESH_SECONDS = 30.0  # how soon a page says a version's new words after it is tried or published


@functools.lru_cache(maxsize=4)
def _file_texts(schemas_dir: Path) -> dict[str, str]:
    found: dict[str, tuple[int, str]] = {}
    for path in sorted(Path(schemas_dir, "question-sets").glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # checks refuses a broken set at its start; here it only costs the wording
        version = doc.get("version", 0) if isinstance(doc, dict) else 0
        for question in doc.get("questions", []) if isinstance(doc, dict) else []:
            qid, words = question.get("id"), question.get("text")
            if isinstance(qid, str) and isinstance(words, str) and version >= found.get(qid, (-1, ""))[0]:
                found[qid] = (version, words)
    return {qid: words for qid, (_, words) in found.items()}


class _Learned:
    """The versions made on the pages, as this process's service knows them; read again every half minute."""

    def __init__(self, versions: Callable[[], list[dict]]):
        self.versions = versions
        self.published: dict[str, str] = {}
        self.tried: dict[str, str] = {}
        self.read_at = -REFRESH_SECONDS
        self.lock = threading.Lock()

    def words(self) -> tuple[dict[str, str], dict[str, str]]:
        if time.monotonic() - self.read_at >= REFRESH_SECONDS:
            with self.lock:
                self.read_at = time.monotonic()
                try:
                    versions = sorted(self.versions(), key=lambda d: d["version"])  # the newest last: it wins
                except PyMongoError:
                    # Words are not worth a failed page or alert: the words known so far, read again later.
                    log.warning("the questions' words made with checkers could not be read", exc_info=True)
                    return self.published, self.tried
                published, tried = {}, {}
                for doc in versions:
                    into = published if doc["status"] == "published" else tried
                    into.update({q["id"]: q["text"] for q in doc["questions"]})
                self.published, self.tried = published, tried
        return self.published, self.tried


_learned: _Learned | None = None


def learn(versions: Callable[[], list[dict]]) -> None:
    """Use the versions made on the pages (each with ``version``, ``status`` and ``questions``) from now on."""
    global _learned
    _learned = _Learned(versions)


def texts(schemas_dir: Path = ROOT / "schemas") -> dict[str, str]:
    """question id -> its words, from every version known (the newest published wins)."""
    if _learned is None:
        return _file_texts(Path(schemas_dir))
    published, tried = _learned.words()
    return tried | _file_texts(Path(schemas_dir)) | published


def text(question_id: str | None, schemas_dir: Path = ROOT / "schemas") -> str:
    """The words of one question, or its id if no version knows it."""
    return texts(schemas_dir).get(question_id or "", question_id or "")


class LearnedVersions:
    """A service's copy of the versions made with checkers, from ``qc.questions``: their ids, status and words.

    In ``<prefix>_questions`` (``agg_questions``, ``notify_questions``): each service keeps its own."""

    def __init__(self, db: Database, prefix: str):
        self.collection = db[f"{prefix}_questions"]

    def apply(self, data: dict) -> None:
        """Keep a version's step unless a later one is kept already (a redelivery brings an older one)."""
        doc = {
            "_id": f"{data['set_id']}:{data['version']}",
            **{k: data[k] for k in ("set_id", "version", "status", "questions")},
            "at": events.parse_time(data["at"]),
        }
        keep_latest(self.collection, doc)

    def all(self) -> list[dict]:
        """Every version known (a handful: one is made every few months)."""
        return list(self.collection.find({}, {"version": 1, "status": 1, "questions": 1}))
