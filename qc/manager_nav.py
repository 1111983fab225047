"""One navigation for the managers' pages of all three services: the same links, in the same order, everywhere.

A manager moves between what needs them today (their home), the overview
(aggregate), the alerts inbox and the boards (notify) and their checkers (checks) without knowing which service
serves which page; each page marks where they are (``aria-current``).
"""

from __future__ import annotations

from qc.settings import Settings


def links(settings: Settings) -> list[dict]:
    """The links, each with an ``id`` a page names as its current one."""
    urls = (settings.checks_public_url, settings.aggregate_public_url, settings.notify_public_url)
    checks, aggregate, notify = (url.rstrip("/") for url in urls)
    return [
        {"id": "today", "label": "Today", "href": f"{notify}/manager/today"},
        {"id": "overview", "label": "Overview", "href": f"{aggregate}/manager"},
        {"id": "alerts", "label": "Alerts", "href": f"{notify}/manager/alerts"},
        {"id": "actions", "label": "Actions", "href": f"{notify}/manager/actions"},
        {"id": "boards", "label": "You said, we did", "href": f"{notify}/manager/boards"},
        {"id": "checkers", "label": "Checkers", "href": f"{checks}/manager/checkers"},
        {"id": "sign-out", "label": "Sign out", "href": f"{checks}/manager/sign-out"},
    ]
