"""The SMTP transport for alert e-mails: one connection for a session of sends, plain and HTML parts."""

from __future__ import annotations

import contextlib
import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import urlparse

log = logging.getLogger(__name__)


class BadAddress(ValueError):
    """An e-mail address that cannot be sent to as it is; the directory must be corrected."""


class Mailer:
    """Sends one message per call over SMTP (plain text with an HTML alternative).

    Inside ``session()`` the calls share one connection: a handshake per message was most of the
    worker's time spent sending when many alerts were due at once.
    """

    def __init__(self, smtp_url: str, sender: str, timeout: float):
        parsed = urlparse(smtp_url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 25
        self.use_tls = parsed.scheme == "smtps"
        self.username, self.password = parsed.username, parsed.password
        self.sender, self.timeout = sender, timeout
        self._sessions = 0
        self._smtp: smtplib.SMTP | None = None

    @contextlib.contextmanager
    def session(self):
        """Reuse one connection for the sends inside; closed on the way out."""
        self._sessions += 1
        try:
            yield self
        finally:
            self._sessions -= 1
            if not self._sessions:
                self._close()

    def send(self, to: str, subject: str, text: str, html: str) -> None:
        """Send or raise (smtplib.SMTPException / OSError; BadAddress for an address that cannot be a header)."""
        if not to or any(ord(c) < 32 or ord(c) == 127 for c in to):
            # A line break in a header would let an address add recipients (header injection).
            raise BadAddress("the address has a line break or another control character")
        message = EmailMessage()
        # A site name with a line break must not break (or add to) the headers: it is folded to spaces.
        message["From"], message["To"], message["Subject"] = self.sender, to, " ".join(subject.split())
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        if not self._sessions:
            with self._connect() as smtp:
                smtp.send_message(message)
            return
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.send_message(message)
        except (smtplib.SMTPException, OSError):
            self._close()  # never reuse a connection in an unknown state; the next send opens a new one
            raise

    def _connect(self) -> smtplib.SMTP:
        smtp_class = smtplib.SMTP_SSL if self.use_tls else smtplib.SMTP
        smtp = smtp_class(self.host, self.port, timeout=self.timeout)
        try:
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
