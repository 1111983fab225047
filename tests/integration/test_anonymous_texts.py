"""Anonymous texts cannot be tied to a named one: kept apart, undated, and withheld where too few people checked."""

from __future__ import annotations

import dataclasses
import re

import pytest

from qc import auth, mongo, text_keys, web
from services.aggregate.bootstrap import create_app
from services.aggregate.stores.directory import SiteDirectory
from services.aggregate.stores.rollups import RollupStore
from services.aggregate.worker import AggregateHandler
from tests import builders
from tests.builders import csv_rows, validated_check

pytestmark = pytest.mark.integration
NAMED = dict(checker="chk-a", comments=("They are kind", ""), shares=("named", "anonymous"))
SECRET = "The night nurse drinks"  # anonymous, in the same check as Alice's named comment


@pytest.fixture
def world(settings):
    app = create_app({**dataclasses.asdict(settings), "team_feedback_min_answers": 3})
    db = mongo.connect(settings, "qc-tests")
    directory = SiteDirectory(db)
    directory.apply({"entity": "site", "id": "S1", "name": "Elm Court", "region_id": "R01", "active": True})
    directory.apply(
        {"entity": "person", "id": "chk-a", "name": "Alice", "role": "checker", "site_id": "S1", "active": True}
    )
    store = RollupStore(db)
    store.ensure_indexes()
    handler = AggregateHandler(store, directory, publisher=None)
    # November: Alice (a named comment, and an anonymous "not working" text in the same check) and one other.
    handler.handle(
        builders.deliveries(
            validated_check("S1", "R01", "2026-11-03", **NAMED, not_working=[SECRET], texts_share="anonymous"),
            validated_check("S1", "R01", "2026-11-20", checker="chk-b"),
        )
    )
    yield app, handler
    app.extensions["qc.close"]()
    db.client.drop_database(settings.mongo_db)
    db.client.close()


def _reads(app, settings):
    token = auth.issue_manager_token(settings.secret_key, auth.Principal("rm", "regional_manager", "R01"))
    api = app.test_client().get("/api/v1/sites/S1/comments", headers={"Authorization": f"Bearer {token}"}).json
    client = app.test_client()
    client.set_cookie(web.MANAGER_COOKIE, token)
    page = client.get("/manager/sites/S1?period=2026-11").get_data(as_text=True)
    rows = csv_rows(client.get("/manager/sites/S1?period=2026-11&format=csv&table=comments"))
    theme = client.get("/manager/themes/not_working/health?site_id=S1&period=2026-11").get_data(as_text=True)
    return api, page, rows, theme


def test_with_too_few_people_in_the_month_anonymous_texts_are_withheld_and_the_reader_told_why(world, settings):
    app, _handler = world
    api, page, rows, theme = _reads(app, settings)
    assert [e["by"] for e in api["comments"]] == ["Alice"]  # the named comment, dated
    assert api["anonymous"] == [] and api["anonymous_withheld"] == 1
    assert "fewer than 3 different people checked this place" in api["anonymous_withheld_why"]
    for shown in (page, theme, str(rows)):
        assert SECRET not in shown
    assert "fewer than 3 different people" in page and "data-withheld" in theme
    assert text_keys.text_key(SECRET, settings.secret_key) not in page  # withheld: nothing to make an action of
    assert [r["by"] for r in rows] == ["Alice"]


def test_with_enough_people_anonymous_texts_are_shown_apart_without_a_date(world, settings):
    app, handler = world
    handler.handle(
        builders.deliveries(validated_check("S1", "R01", "2026-11-25", checker="chk-c"))
    )  # a third person in November
    api, page, rows, theme = _reads(app, settings)
    assert api["anonymous"] == [{"question": "What is not working", "text": SECRET}] and api["anonymous_withheld"] == 0
    named = next(e for e in api["comments"] if e["by"] == "Alice")
    assert SECRET not in str(named) and named["visited_on"] == "2026-11-03"
    assert {"visited_on": "", "question": "What is not working", "text": SECRET, "by": "Anonymous"} in rows
    row = theme[theme.index(SECRET) - 400 : theme.index(SECRET)]
    assert "2026-11-03" not in row and "<td>–</td>" in row  # no visit date beside the anonymous text
    apart = page[page.index('data-shared="anonymous"') :]
    assert SECRET in apart and "2026-11" not in apart[: apart.index("</ul>")]
    # The text can become an action at notify, linked by its key: its words never go into the address.
    key = text_keys.text_key(SECRET, settings.secret_key)
    link = re.search(r'<a href="([^"]*about=text:[^"]*)" data-make-action="text">', apart).group(1)
    assert f"about=text:{key}" in link and "nurse" not in link.lower() and "site_id=S1" in link
    assert "period" not in link  # an anonymous text is not dated, not even by the address
