"""Right of reply: a region's report as a draft, site managers' replies, publication, frozen (real database)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import pytest

from qc import auth, mongo, web
from services.aggregate.bootstrap import create_app
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from tests import builders
from tests.builders import validated_check

pytestmark = pytest.mark.integration
# Wednesday 25 November 2026: five working days later is Wednesday 2 December.
SHARED = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
LAST_DAY = dt.datetime(2026, 12, 2, 23, 30, tzinfo=dt.UTC)  # still 2 December in London
AFTER = dt.datetime(2026, 12, 3, 0, 30, tzinfo=dt.UTC)
MANAGERS = {
    "rm": {"role": "regional_manager", "region_id": "R01"},
    "admin": {"role": "org_admin"},
    "sm1": {"role": "site_manager", "region_id": "R01", "site_id": "S1"},
    "sm2": {"role": "site_manager", "region_id": "R01", "site_id": "S2"},
    "sm3": {"role": "site_manager", "region_id": "R02", "site_id": "S3"},
    "rm2": {"role": "regional_manager", "region_id": "R02"},
}


@dataclasses.dataclass
class World:
    app: object
    settings: object
    handler: AggregateHandler
    now: list

    def client(self, who: str, token: str | None = None):
        """A test client with ``who``'s session cookie (``token``, or a new one)."""
        client = self.app.test_client()
        client.set_cookie(web.MANAGER_COOKIE, token or self.token(who))
        return client

    def token(self, who: str) -> str:
        return auth.issue_manager_token(self.settings.secret_key, auth.Principal(who, **MANAGERS[who]))

    def post(self, who: str, path: str, **form):
        """A page form sent with ``who``'s session and its CSRF token."""
        # One token for the cookie and its CSRF token: two made a second apart are two sign-ins.
        token = self.token(who)
        form["csrf_token"] = web.manager_csrf_token(self.settings, token)
        return self.client(who, token).post(path, data=form)

    def api(self, who: str, path: str):
        return self.app.test_client().get(path, headers={"Authorization": f"Bearer {self.token(who)}"})


@pytest.fixture
def world(settings):
    app = create_app(dataclasses.asdict(settings))
    db = mongo.connect(settings, "qc-tests")
    directory = SiteDirectory(db)
    for site, region in (("S1", "R01"), ("S2", "R01"), ("S3", "R02")):
        directory.apply({"entity": "site", "id": site, "name": f"Site {site}", "region_id": region, "active": True})
    store = RollupStore(db)
    store.ensure_indexes()
    handler = AggregateHandler(store, directory, publisher=None)
    handler.handle(
        builders.deliveries(
            validated_check("S1", "R01", "2026-11-03", scores=(3, 3), working=["Lovely food"]),
            validated_check("S2", "R01", "2026-11-04", scores=(1, 2)),
            validated_check("S3", "R02", "2026-11-05"),
        )
    )
    now = [SHARED]
    app.extensions["qc.aggregate"].right_of_reply.clock = lambda: now[0]
    # Not told to the shared broker: the end-to-end tier's notify reads it, and R01 is its region too
    # (telling notify is tests/integration/test_reports_waiting.py's).
    app.extensions["qc.aggregate"].right_of_reply.tell = lambda doc: False
    yield World(app, settings, handler, now)
    app.extensions["qc.close"]()
    db.client.drop_database(settings.mongo_db)
    db.client.close()


REPORT = "/manager/regions/R01/reports/2026-11"


def _row(page: str, site: str) -> str:
    start = page.index(f'data-site="{site}"')
    return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]


def test_prepare_reply_publish_and_frozen(world):
    # Prepare: a wrong period is refused next to the field, then the draft is made and shared.
    wrong = world.post("rm", "/manager/regions/R01/reports", period="2026-13")
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "There is a problem" in body and 'id="period-error"' in body
    made = world.post("rm", "/manager/regions/R01/reports", period="2026-11")
    assert made.status_code == 303 and made.headers["Location"].endswith(f"{REPORT}?prepared=new")
    again = world.post("rm", "/manager/regions/R01/reports", period="2026-11")
    assert again.headers["Location"].endswith("prepared=again")
    page = world.client("rm").get(again.headers["Location"]).get_data(as_text=True)
    assert "This replaced the earlier draft" in page and "2 December 2026" in page
    doc = world.api("rm", "/api/v1/regions/R01/reports/2026-11").json
    assert (doc["status"], doc["reply_by"], doc["sites"][0]["site_id"]) == ("draft", "2026-12-02", "S1")
    assert [h["action"] for h in doc["history"]] == ["prepared", "prepared again"]
    assert {s["site_id"]: s["score"] for s in doc["sites"]} == {"S1": 3.0, "S2": 1.5}

    # A site manager of the region sees the draft with only their own row highlighted, and is asked to reply.
    draft = world.client("sm1").get(REPORT).get_data(as_text=True)
    assert 'class="mine"' in _row(draft, "S1") and 'class="mine"' not in _row(draft, "S2")
    assert draft.count('class="mine"') == 1 and 'name="reply"' in draft and "Publish this report" not in draft
    site_page = world.client("sm1").get("/manager/sites/S1?period=2026-11").get_data(as_text=True)
    assert "Reports waiting for your reply" in site_page and f"{REPORT}#reply-h" in site_page

    # Too long: a plain error next to the field and at the top; what they wrote is kept.
    too_long = world.post("sm1", f"{REPORT}/replies/S1", reply="x" * 2001)
    body = too_long.get_data(as_text=True)
    assert too_long.status_code == 422
    assert "Your reply is 2,001 characters long" in body and 'id="reply-error"' in body and "There is a problem" in body
    assert "x" * 2001 in body
    assert world.post("sm1", f"{REPORT}/replies/S1", reply="   ").status_code == 422
    saved = world.post("sm1", f"{REPORT}/replies/S1", reply="We had two new staff.")
    assert saved.status_code == 303
    world.now[0] = SHARED + dt.timedelta(days=1)
    edited = world.post("sm1", f"{REPORT}/replies/S1", reply="=HYPERLINK(1) We had two new staff in November.")
    assert edited.status_code == 303
    site_page = world.client("sm1").get("/manager/sites/S1?period=2026-11").get_data(as_text=True)
    assert "Reports waiting for your reply" not in site_page
    doc = world.api("rm", "/api/v1/regions/R01/reports/2026-11").json
    s1 = doc["sites"][0]
    assert s1["reply"] == "=HYPERLINK(1) We had two new staff in November." and s1["reply_by"] == "sm1"
    assert s1["reply_written_at"].startswith("2026-11-25") and s1["reply_changed_at"].startswith("2026-11-26")
    assert [h["action"] for h in doc["history"]][2:] == ["replied", "reply changed"]
    # The region's manager reads the replies in the draft; another site's manager does not, until publication.
    assert "two new staff in November" in _row(world.client("rm").get(REPORT).get_data(as_text=True), "S1")
    assert "two new staff" not in world.client("sm2").get(REPORT).get_data(as_text=True)
    # ...nor in the draft's CSV, which shows what the page shows: their own reply only.
    assert "two new staff" not in world.client("sm2").get(f"{REPORT}?format=csv").get_data(as_text=True)
    assert "two new staff" in world.client("sm1").get(f"{REPORT}?format=csv").get_data(as_text=True)
    assert "two new staff" in world.client("rm").get(f"{REPORT}?format=csv").get_data(as_text=True)

    # Not the other site's reply, and not before the deadline while a site has not replied.
    assert world.post("sm1", f"{REPORT}/replies/S2", reply="Not mine").status_code == 403
    early = world.post("rm", f"{REPORT}/publish")
    assert early.status_code == 409 and "1 site has not replied yet" in early.get_data(as_text=True)
    world.now[0] = LAST_DAY
    assert world.post("rm", f"{REPORT}/publish").status_code == 409

    # After the deadline: no more replies; publication is allowed.
    world.now[0] = AFTER
    late = world.post("sm2", f"{REPORT}/replies/S2", reply="Sorry, late")
    assert late.status_code == 409 and "The time for replies ended on Wednesday 2 December 2026" in late.get_data(
        as_text=True
    )
    published = world.post("rm", f"{REPORT}/publish")
    assert published.status_code == 303
    page = world.client("rm").get(REPORT).get_data(as_text=True)
    assert "Reply from the site manager:</strong> =HYPERLINK(1) We had two new staff in November." in _row(page, "S1")
    assert "No reply" in _row(page, "S2") and "Published" in page and "Publish this report" not in page
    printed = world.client("admin").get(f"{REPORT}/print").get_data(as_text=True)
    assert "@page { size: A4" in printed and "We had two new staff" in printed

    # Frozen: a new check, preparing again, replying, publishing again change nothing.
    before = world.api("rm", "/api/v1/regions/R01/reports/2026-11").json
    world.handler.handle(builders.deliveries(validated_check("S2", "R01", "2026-11-20", scores=(3, 3))))
    assert world.client("rm").get("/manager/regions/R01?period=2026-11&format=csv").status_code == 200
    assert world.post("rm", "/manager/regions/R01/reports", period="2026-11").status_code == 409
    assert world.post("sm1", f"{REPORT}/replies/S1", reply="Changed").status_code == 409
    assert world.post("rm", f"{REPORT}/publish").status_code == 409
    after = world.api("rm", "/api/v1/regions/R01/reports/2026-11").json
    assert after == before and after["sites"][1]["checks"] == 1
    assert [h["action"] for h in after["history"]][-1] == "published"

    # Listed for the region; CSV with the replies, cells that cannot run as formulas.
    listed = world.api("rm", "/api/v1/regions/R01/reports").json["reports"]
    assert [(r["period"], r["status"], r["replies"], r["sites"]) for r in listed] == [("2026-11", "published", 1, 2)]
    assert "2026-11" in world.client("admin").get("/manager/regions/R01/reports").get_data(as_text=True)
    response = world.client("rm").get(f"{REPORT}?format=csv")
    assert response.content_type == "text/csv; charset=utf-8"
    assert 'filename="region-R01-report-2026-11-published.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8"))))
    assert [(r["site_id"], r["reply"]) for r in rows] == [
        ("S1", "'=HYPERLINK(1) We had two new staff in November."),
        ("S2", ""),
    ]


def test_publishing_early_once_every_site_replied(world):
    assert world.post("rm", "/manager/regions/R01/reports", period="2026-Q4").status_code == 303
    path = "/manager/regions/R01/reports/2026-Q4"
    assert world.post("sm1", f"{path}/replies/S1", reply="Fine").status_code == 303
    assert world.post("rm", f"{path}/publish").status_code == 409
    assert world.post("sm2", f"{path}/replies/S2", reply="Also fine").status_code == 303
    assert world.post("rm", f"{path}/publish").status_code == 303
    assert world.api("admin", "/api/v1/regions/R01/reports/2026-Q4").json["status"] == "published"


def test_who_may_do_what(world):
    assert world.post("rm", "/manager/regions/R01/reports", period="2026-11").status_code == 303
    # Site managers of another region, and another region's manager: refused everywhere.
    for who in ("sm3", "rm2"):
        assert world.client(who).get(REPORT).status_code == 403
        assert world.client(who).get(f"{REPORT}/print").status_code == 403
        assert world.client(who).get("/manager/regions/R01/reports").status_code == 403
        assert world.post(who, f"{REPORT}/replies/S1", reply="x").status_code == 403
        assert world.post(who, f"{REPORT}/publish").status_code == 403
        assert world.post(who, "/manager/regions/R01/reports", period="2026-11").status_code == 403
        assert world.api(who, "/api/v1/regions/R01/reports").status_code == 403
        assert world.api(who, "/api/v1/regions/R01/reports/2026-11").status_code == 403
    # A site manager of the region reads the draft and replies for their site only; they do not prepare or publish.
    assert world.client("sm2").get(REPORT).status_code == 200
    assert world.post("sm2", f"{REPORT}/replies/S1", reply="x").status_code == 403
    assert world.post("sm2", f"{REPORT}/publish").status_code == 403
    assert world.post("sm2", "/manager/regions/R01/reports", period="2026-11").status_code == 403
    assert world.client("sm2").get("/manager/regions/R01/reports").status_code == 403
    # Regional managers do not write site managers' replies.
    assert world.post("rm", f"{REPORT}/replies/S1", reply="x").status_code == 403
    # No CSRF token: refused.
    assert world.client("sm1").post(f"{REPORT}/replies/S1", data={"reply": "x"}).status_code == 400
    # Unknown report and period.
    assert world.client("rm").get("/manager/regions/R01/reports/2026-10").status_code == 404
    assert world.api("rm", "/api/v1/regions/R01/reports/2026-10").status_code == 404
    assert world.api("rm", "/api/v1/regions/R01/reports/2026-W03").status_code == 400
    assert world.post("admin", "/manager/regions/R99/reports", period="2026-11").status_code == 404
