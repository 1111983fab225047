"""A local SMTP server that keeps every message as a file (development and `make run`)."""

from __future__ import annotations

import argparse
import email
import email.policy
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    """aiosmtpd handler: writes each message to ``<dir>/<time>-<n>.eml`` and keeps it in memory."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory
        self.messages: list[email.message.EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            n = len(self.messages)
        if self.directory:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / f"{time.time_ns()}-{n}.eml").write_bytes(envelope.content)
        return "250 Message accepted for delivery"


def start(host: str, port: int, directory: Path | None = None) -> tuple[Controller, MaildirHandler]:
    """Start the sink in a background thread; call ``controller.stop()`` to end it."""
    handler = MaildirHandler(directory)
    controller = Controller(handler, hostname=host, port=port)
    controller.start()
    return controller, handler


def main() -> None:
    """``python -m qc_tools.smtp_sink --port 1025 --dir var/mail``: run until killed."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    controller, _ = start(args.host, args.port, args.dir)
    stop = threading.Event()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
