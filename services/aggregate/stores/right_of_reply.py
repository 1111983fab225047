"""Right of reply: a region's periodic report, shared as a draft with its site managers, then published frozen.

Preparing a report copies the region overview and themes into ``agg_reports``
(one document per region and period). Site managers reply, one reply per site,
until the deadline (a number of working days after the draft was first
shared). The regional manager then publishes it; from then on nothing in the
document changes, whatever checks arrive later. Who did what is kept in the
document's ``agg_report_history``: aggregate owns this data, not notify's audit.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from qc import events, periods
from services.aggregate.rules import workdays
from services.aggregate.web.reports import Reports

KINDS = ("month", "quarter")
MAX_REPLY = 2000


class ReportError(Exception):
    """A request this report cannot take now; ``status`` for HTTP, ``field`` for the form field at fault."""

    def __init__(self, message: str, status: int = 409, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field


def check_period(period: str) -> str:
    """A month or quarter name; ReportError (422, field ``period``) otherwise."""
    try:
        kind = periods.kind_of(period or "")
    except periods.PeriodError:
        kind = None
    if kind not in KINDS:
        raise ReportError("Give a month like 2026-11 or a quarter like 2026-Q4.", 422, "period")
    return period


def check_reply(text: str | None) -> str:
    """The reply's text, trimmed; ReportError (422, field ``reply``) when empty or too long."""
    text = (text or "").strip()
    if not text:
        raise ReportError("Write your reply in the box.", 422, "reply")
    if len(text) > MAX_REPLY:
        raise ReportError(
            f"Your reply is {len(text):,} characters long. Please make it {MAX_REPLY:,} characters or fewer.",
            422,
            "reply",
        )
    return text


class RightOfReply:
    """The reports of every region, over the ``agg_reports`` collection."""

    def __init__(
        self,
        db: Database,
        reports: Reports,
        holidays: frozenset[dt.date],
        working_days: int,
        timezone: str,
        clock: Callable[[], dt.datetime] = events.now,
        tell: Callable[[dict], bool] | None = None,
    ):
        self.collection = db["agg_reports"]
        self.reports = reports
        self.holidays = holidays
        self.working_days = working_days
        self.tz = zoneinfo.ZoneInfo(timezone)
        self.clock = clock  # injectable, so tests can move past the deadline without waiting
        # Each change is told to notify (report_events.py): the managers' home page lists what waits.
        self.tell = tell or (lambda doc: False)

    def today(self) -> dt.date:
        """Today in the organisation's time zone, by this object's clock."""
        return self.clock().astimezone(self.tz).date()

    def get(self, region_id: str, period: str) -> dict | None:
        """One region's report for a period, draft or published."""
        return self.collection.find_one({"_id": f"{region_id}:{period}"})

    def for_region(self, region_id: str) -> list[dict]:
        """A region's reports, newest period first."""
        return sorted(self.collection.find({"region_id": region_id}), key=lambda d: d["period"], reverse=True)

    def waiting_for(self, site_id: str, region_id: str) -> list[dict]:
        """Drafts of the site's region still open for a reply, that the site has not replied to."""
        today = self.today()
        drafts = self.collection.find({"region_id": region_id, "status": "draft"})
        return [
            d
            for d in drafts
            if site_id not in d.get("replies", {})
            and self.replies_open(d, today)
            and any(s["site_id"] == site_id for s in d["sites"])
        ]

    def _told(self, doc: dict) -> dict:
        """Tell notify of the change just made (the worker tells it later if the broker did not take it)."""
        self.tell(doc)
        return doc

    def replies_open(self, doc: dict, today: dt.date | None = None) -> bool:
        """A draft whose reply deadline (a whole day) has not passed."""
        today = today or self.today()
        return doc["status"] == "draft" and today <= dt.date.fromisoformat(doc["reply_by"])

    def all_replied(self, doc: dict) -> bool:
        """Every site of the snapshot has a reply."""
        return all(s["site_id"] in doc.get("replies", {}) for s in doc["sites"])

    def prepare(self, region_id: str, period: str, by: str) -> tuple[dict, bool]:
        """Snapshot the region into its report (a draft); returns (report, True if it replaced an earlier draft)."""
        check_period(period)
        now = self.clock()
        snapshot = self._snapshot(region_id, period, now.astimezone(self.tz).date())
        doc_id = f"{region_id}:{period}"
        if self.collection.find_one({"_id": doc_id}) is None:
            shared_on = now.astimezone(self.tz).date()
            doc = {
                "_id": doc_id,
                "region_id": region_id,
                "period": period,
                "status": "draft",
                "shared_at": now,
                "reply_by": workdays.add_working_days(shared_on, self.working_days, self.holidays).isoformat(),
                "replies": {},
                **snapshot,
                "prepared_at": now,
                "prepared_by": by,
                "agg_report_history": [{"action": "prepared", "by": by, "at": now}],
                "changed_at": now,
                "told": False,
            }
            try:
                self.collection.insert_one(doc)
                self.tell(doc)
                return doc, False
            except DuplicateKeyError:
                pass  # someone prepared it a moment ago: replace theirs like any draft
        # The deadline and the replies stay: the site managers were told when to reply by.
        result = self.collection.update_one(
            {"_id": doc_id, "status": "draft"},
            {
                "$set": {**snapshot, "prepared_at": now, "prepared_by": by, "changed_at": now, "told": False},
                "$push": {"agg_report_history": {"action": "prepared again", "by": by, "at": now}},
            },
        )
        if not result.matched_count:
            raise ReportError(f"The report for {period} is published already; it cannot change now.")
        return self._told(self.get(region_id, period)), True

    def _snapshot(self, region_id: str, period: str, today: dt.date) -> dict:
        sites = []
        for row in self.reports.overview(region_id, period, today):
            rollup = self.reports.rollup("site", row["site_id"], period)
            sites.append(
                {
                    **{k: row[k] for k in ("site_id", "name", "checks", "score", "score_change")},
                    **{k: row[k] for k in ("last_check_on", "days_since_last_check", "has_active_checker")},
                    "checked_in_period": bool(row["checks"]),
                    "share_sure": rollup["confidence"]["share_sure"],
                    "fixes_confirmed": rollup["fixes"]["confirmed"],
                    "fixes_disputed": rollup["fixes"]["disputed"],
                }
            )
        region = self.reports.rollup("region", region_id, period)
        grouped = self.reports.themes_for(period, region_id=region_id)
        return {
            "sites": sites,
            "region": {
                **{k: region.get(k) for k in ("checks", "sites_checked", "score", "score_change")},
                "sites": len(sites),
                "share_sure": region["confidence"]["share_sure"],
                "fixes_confirmed": region["fixes"]["confirmed"],
                "fixes_disputed": region["fixes"]["disputed"],
            },
            # Counts and labels only: which checks a theme came from is not the report's business.
            "themes": {
                "submissions": grouped["submissions"],
                **{
                    kind: [{k: t[k] for k in ("theme", "label", "mentions", "submissions")} for t in grouped[kind]]
                    for kind in ("working", "not_working")
                },
            },
        }

    def reply(self, region_id: str, period: str, site_id: str, text: str, by: str) -> dict:
        """Write or change a site's reply to a draft, until its deadline."""
        doc = self.get(region_id, period)
        if doc is None or not any(s["site_id"] == site_id for s in doc["sites"]):
            raise ReportError("There is no report for this site to reply to.", 404)
        text = check_reply(text)
        if doc["status"] != "draft":
            raise ReportError("This report is published: replies cannot change now.", 409, "reply")
        if not self.replies_open(doc):
            raise ReportError(f"The time for replies ended on {_day(doc['reply_by'])}.", 409, "reply")
        now = self.clock()
        earlier = doc.get("replies", {}).get(site_id)
        reply = {"text": text, "by": by, "written_at": earlier["written_at"] if earlier else now, "changed_at": now}
        result = self.collection.update_one(
            {"_id": doc["_id"], "status": "draft"},
            {
                "$set": {f"replies.{site_id}": reply, "changed_at": now, "told": False},
                "$push": {
                    "agg_report_history": {
                        "action": "reply changed" if earlier else "replied",
                        "by": by,
                        "at": now,
                        "site_id": site_id,
                    }
                },
            },
        )
        if not result.matched_count:
            raise ReportError("This report was published a moment ago: replies cannot change now.", 409, "reply")
        return self._told(self.get(region_id, period))

    def publish(self, region_id: str, period: str, by: str) -> dict:
        """Publish a draft: after its deadline, or sooner once every site has replied. Frozen from then on."""
        doc = self.get(region_id, period)
        if doc is None:
            raise ReportError(f"There is no report for {period} yet.", 404)
        if doc["status"] != "draft":
            raise ReportError("This report is published already.")
        if self.replies_open(doc) and not self.all_replied(doc):
            waiting = sum(1 for s in doc["sites"] if s["site_id"] not in doc.get("replies", {}))
            raise ReportError(
                f"Site managers can reply until {_day(doc['reply_by'])}, and {waiting} "
                f"{'site has' if waiting == 1 else 'sites have'} not replied yet. "
                "You can publish after that day, or as soon as every site has replied."
            )
        now = self.clock()
        result = self.collection.update_one(
            {"_id": doc["_id"], "status": "draft"},
            {
                "$set": {
                    "status": "published",
                    "published_at": now,
                    "published_by": by,
                    "changed_at": now,
                    "told": False,
                },
                "$push": {"agg_report_history": {"action": "published", "by": by, "at": now}},
            },
        )
        if not result.matched_count:
            raise ReportError("This report is published already.")
        return self._told(self.get(region_id, period))


def _day(iso: str) -> str:
    day = dt.date.fromisoformat(iso)
    return f"{day:%A} {day.day} {day:%B %Y}"
