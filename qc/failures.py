"""What went wrong, said safely: is it the infrastructure's fault (retry) or the event's (dead-letter), and where.

Used by the consumer loop and by everything else that must tell an outage from a bad event.
"""

from __future__ import annotations

import traceback

from kafka.errors import KafkaError
from pymongo.errors import ConnectionFailure, CursorNotFound

from qc.kafka import PublishError

# Errors that say "the infrastructure is down", not "this event is bad".
# ConnectionFailure covers pymongo's AutoReconnect, NetworkTimeout,
# ServerSelectionTimeoutError and NotPrimaryError; a cursor is lost when the
# database restarts mid-read, which is no fault of the event either.
TRANSIENT = (ConnectionFailure, CursorNotFound, PublishError, KafkaError)


def is_transient(error: BaseException) -> bool:
    """True when ``error``, or an error it was raised from, means the broker or database is unavailable."""
    seen = 0
    while error is not None and seen < 10:  # handlers may translate driver errors (``raise X from e``)
        if isinstance(error, TRANSIENT):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


_ROOTS = ("qc", "services", "tests")


def where(error: BaseException) -> str:
    """The error's type and the line that raised it, never its message.

    Messages can quote what a checker wrote (a comment, a name), and logs and
    the dead-letter reason must not; the event itself is in the dead letter.
    """
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    ours = [f for f in frames if any(f"/{root}/" in f.filename for root in _ROOTS)]
    last = (ours or frames)[-1]  # our line that called into a library says more than the library's
    return f"{type(error).__name__} at {_short_path(last.filename)}:{last.lineno} in {last.name}"


def _short_path(filename: str) -> str:
    """The path from the package root (qc/…, services/…), or the file name for library code."""
    parts = filename.replace("\\", "/").split("/")
    for root in _ROOTS:
        if root in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(root) :])
    return parts[-1]
