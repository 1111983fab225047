"""Request helpers shared by aggregate's API and pages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from flask import current_app, request

from qc import periods, web
from qc.settings import Settings
from services.aggregate.stores.actions import SiteActions
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.right_of_reply import RightOfReply
from services.aggregate.web.reports import Reports
from services.aggregate.web.team_feedback import TeamFeedback
from services.aggregate.web.texts import Texts


@dataclasses.dataclass
class Context:
    """Built once per worker process by create_app."""

    settings: Settings
    directory: SiteDirectory
    reports: Reports
    texts: Texts
    team_feedback: TeamFeedback
    right_of_reply: RightOfReply
    site_actions: SiteActions  # what managers are doing about what people said (from notify's events)


def ctx() -> Context:
    """This app's context."""
    return current_app.extensions["qc.aggregate"]


def today() -> dt.date:
    """Today in the organisation's time zone."""
    return dt.datetime.now(zoneinfo.ZoneInfo(ctx().settings.timezone)).date()


def period_arg():
    """The ``period`` query parameter (default: this month), or a problem document."""
    period = request.args.get("period") or periods.current("month", today())
    try:
        periods.kind_of(period)
    except periods.PeriodError as e:
        return None, web.problem(400, "Unknown period", str(e), errors=[{"field": "period", "message": str(e)}])
    return period, None
