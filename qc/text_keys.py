"""A free text's key: which checks said the same words, without keeping or passing the words themselves.

A manager can make an action about one "What is not working?" text shown on a site's page (aggregate). The
link to notify's form carries the text's key, never the text (addresses end up in logs and browser
histories); checks keeps the keys of each check's texts (never the words), so the action reaches the
checker who wrote it on My checks. Keyed with the services' shared secret, so a key seen in a log cannot be
tried against guessed words. Case, spacing and punctuation do not matter. A new secret key means actions
made after it no longer find texts written before it (they still go on the board).
"""

from __future__ import annotations

import hashlib
import hmac
import re

LENGTH = 20  # hex characters: 80 bits, plenty to tell a site's texts apart
PATTERN = re.compile(rf"^[0-9a-f]{{{LENGTH}}}$")


def text_key(text: str, secret: str) -> str:
    """The key of a text, the same for the same words whatever their case, spacing or punctuation."""
    words = " ".join(re.findall(r"\w+", text.casefold()))
    return hmac.new(secret.encode(), words.encode(), hashlib.sha256).hexdigest()[:LENGTH]


def is_key(text: str) -> bool:
    """True for something shaped like a text key (what a link may carry)."""
    return bool(PATTERN.match(text))
