"""One navigation for the managers' pages of all three services: the same links, in the same order, everywhere.

A manager moves between what needs them today (their home), the overview
(aggregate), the alerts inbox and the boards (notify) and their checkers (checks) without knowing which service
serves which page; each page marks where they are (``aria-current``).
"""

from __future__ import annotations

from flask import g

from qc.settings import Settings


def links(settings: Settings, role: str | None = None) -> list[dict]:
    """The links, each with an ``id`` a page names as its current one; those a role has no use for left out."""
    urls = (settings.checks_public_url, settings.aggregate_public_url, settings.notify_public_url)
    checks, aggregate, notify = (url.rstrip("/") for url in urls)
    every = [
        {"id": "today", "label": "Today", "href": f"{notify}/manager/today"},
        {"id": "overview", "label": "Overview", "href": f"{aggregate}/manager"},
        {"id": "alerts", "label": "Alerts", "href": f"{notify}/manager/alerts"},
        {"id": "actions", "label": "Actions", "href": f"{notify}/manager/actions"},
        {"id": "boards", "label": "You said, we did", "href": f"{notify}/manager/boards"},
        {"id": "checkers", "label": "Checkers", "href": f"{checks}/manager/checkers"},
        {"id": "sign-out", "label": "Sign out", "href": f"{checks}/manager/sign-out"},
    ]
    hidden = NOT_FOR.get(role or "", ())
    return [link for link in every if link["id"] not in hidden]


# What a role's pages would refuse: the involvement lead reads no alerts, so neither the inbox,
# "Needs you today" (alerts by age) nor the actions that follow them.
NOT_FOR = {"involvement_lead": ("today", "alerts", "actions")}


# Where each role lands after signing in: "Needs you today", but the involvement lead's checkers.
HOME = {"involvement_lead": "checkers"}


def home(settings: Settings, role: str | None) -> str:
    """The address of a role's home page."""
    wanted = HOME.get(role or "", "today")
    return next(link["href"] for link in links(settings, role) if link["id"] == wanted)


def install(app, settings: Settings) -> None:
    """Give every template ``manager_nav``: the links for whoever is signed in on the request."""

    @app.context_processor
    def _manager_nav():
        principal = getattr(g, "principal", None)
        return {"manager_nav": links(settings, principal.role if principal else None)}
