"""My contribution: the checker's own record of checks done, time given and training, and a printable A4 copy."""

from __future__ import annotations

from flask import g, render_template

from qc.dates import long_date
from services.checks import context
from services.checks.stores.contributions import KINDS, Contributions, hours_words, record
from services.checks.web import intake
from services.checks.web.checker_session import bp, signed_in

ROLE_WORDS = (
    "Quality checker: visits services and tells managers what is working and what is not, as an expert by experience."
)


def _context() -> dict:
    """Everything both pages show, for the signed-in checker only (no id in the address to change)."""
    ctx = context.ctx()
    checker_id = g.checker["checker_id"]
    person = ctx.directory.person(checker_id) or {}
    site = ctx.directory.site(g.checker["site_id"]) or {}
    mine = record(Contributions(ctx.db), checker_id)
    return {
        "name": person.get("name", ""),
        "organisation": ctx.settings.organisation_name,
        "site_name": site.get("name", ""),
        "role_words": ROLE_WORDS,
        "record": mine,
        "first_check": long_date(mine.first_check) if mine.first_check else None,
        "latest_check": long_date(mine.latest_check) if mine.latest_check else None,
        "hours_words": hours_words(mine.hours),
        "kinds": KINDS,
        "long_date": long_date,
        "printed_on": long_date(intake.today(ctx.settings.timezone).isoformat()),
    }


@bp.get("/my-contribution")
@signed_in
def my_contribution():
    """The checks, time and training the checker has given, in easy read."""
    return render_template("my_contribution.html", **_context())


@bp.get("/my-contribution/print")
@signed_in
def my_contribution_print():
    """The same record on one A4 page, for a CV or a course application."""
    return render_template("my_contribution_print.html", **_context())
