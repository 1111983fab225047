"""JSON logs on stderr, each line carrying the current correlation id.

Log the ids of things (submission, event, alert), never free text or names:
what checkers write may be a safeguarding matter.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

_correlation: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


class _CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _correlation.get()
        return True


def setup(service: str, level: str = "INFO") -> None:
    """Send JSON lines to stderr for this process (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            rename_fields={"levelname": "level", "asctime": "time"},
            static_fields={"service": service},
        )
    )
    handler.addFilter(_CorrelationFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kafka-python is chatty at INFO (every connection and rebalance step).
    logging.getLogger("kafka").setLevel(logging.WARNING)


@contextlib.contextmanager
def correlation(correlation_id: str | None):
    """Attach ``correlation_id`` to every log line inside the block."""
    token = _correlation.set(correlation_id)
    try:
        yield
    finally:
        _correlation.reset(token)


def current_correlation() -> str | None:
    """The correlation id of the work in hand, if any."""
    return _correlation.get()
