"""The "You said, we did" board over the real broker and database: content, anonymity, safeguarding, who may see it."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import re

import pytest

from qc import auth, events, web
from services.notify.bootstrap import create_app
from services.notify.stores.knowledge import Knowledge
from tests.scenarios.board import LEE, SAMIRA, TOM, build_board

pytestmark = pytest.mark.integration
BOARD = "/sites/S0001/board"


@pytest.fixture
def board(db, settings, publisher):
    """The board's alerts and the notify app over them."""
    made = build_board(db, settings, publisher)
    app = create_app(dataclasses.asdict(settings))
    yield {"app": app, "settings": settings, **made}
    app.extensions["qc.close"]()


def _get(world, path, manager=None, **claims):
    client = world["app"].test_client()
    if manager:
        token = auth.issue_manager_token(world["settings"].secret_key, auth.Principal(username=manager, **claims))
        client.set_cookie(web.MANAGER_COOKIE, token)
    return client.get(path)


SM1 = {"manager": "sm1", "role": "site_manager", "region_id": "R01", "site_id": "S0001"}


def _item(page: str, alert_id: str) -> str:
    match = re.search(rf'<li class="item" data-item="{alert_id}".*?</li>\s*(?=<li class="item"|</ol>)', page, re.S)
    assert match, f"no item for {alert_id}"
    return match.group(0)


def test_the_board_says_what_was_raised_and_done_in_plain_words(board):
    page = _get(board, BOARD, **SM1).get_data(as_text=True)
    assert "You said, we did" in page and "Elm Court" in page and "data-read-aloud" in page
    fixed = _item(page, board["fixed"]["_id"])
    assert "You said you do not always feel safe where you live." in fixed, "easy read, not a question and a score"
    assert "You said staff do not always treat you with respect." in fixed and "Not good" not in fixed
    assert "We did:" in fixed and "We mended the back door lock." in fixed
    assert re.search(r"On \d{1,2} \w+ \d{4}\.", fixed)  # the date it was done
    assert 'data-better="yes"' in fixed and "Is it better? People said: <strong>yes</strong>" in fixed
    still = _item(page, board["open"]["_id"])
    assert "We are working on it." in still and "Is it better?" not in still
    assert board["elsewhere"]["_id"] not in page  # another site's alert
    assert re.search(r'<h2 class="item__date" data-speak>\d{1,2} \w+ \d{4}</h2>', page)


def test_the_board_is_anonymous_unless_a_checker_agreed_and_then_shows_only_a_first_name(board):
    page = _get(board, BOARD, **SM1).get_data(as_text=True)
    fixed = _item(page, board["fixed"]["_id"])
    # Samira shared both answers by name; Lee (on the same item) only one, so neither of his; Tom none.
    assert re.search(r"feel safe where you live\. <span class=\"who\">\(Samira said this\.\)", fixed)
    assert re.search(r"with respect\. <span class=\"who\">\(Samira said this\.\)</span></li>", fixed)
    assert "Lee" not in page and "Park" not in page
    assert "Samira" not in _item(page, board["open"]["_id"])
    for secret in ("Quinn", "Tom", "Baker", SAMIRA[0], TOM[0], LEE[0], "supporter@test", "@test"):
        assert secret not in page, secret
    # What checkers wrote in comments never goes on a noticeboard.
    for comment in ("back door lock is broken", "rude to me", "shouting at night", "ignore me"):
        assert comment not in page


def test_no_words_of_a_worry_ever_reach_the_board(board):
    for path in (BOARD, f"{BOARD}/print"):
        page = _get(board, path, **SM1).get_data(as_text=True)
        open_worry, done_worry = _item(page, board["worry_open"]["_id"]), _item(page, board["worry_done"]["_id"])
        assert "A worry was raised and is being looked into." in open_worry
        assert "A worry was raised. It has been looked into." in done_worry
        for text in ("frighten", "took money", "police", "Night Nurse Ann", "Samira"):
            assert text not in open_worry + done_worry, (path, text)
        assert "frighten" not in page and "police" not in page and "took money" not in page


def test_the_print_version_is_a4_with_no_navigation(board):
    response = _get(board, f"{BOARD}/print", **SM1)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "We mended the back door lock." in page
    assert "<nav" not in page and "/manager/" not in page and "board--print" in page
    assert re.search(r"@page\s*\{\s*size:\s*A4", page) and "@media print" in page
    # The style and script are inline, and the page allows exactly those (by hash) and nothing else.
    csp = response.headers["Content-Security-Policy"]
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp and "unsafe-inline" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_who_may_see_a_board(board):
    settings = board["settings"]
    assert _get(board, BOARD, **SM1).status_code == 200
    assert _get(board, BOARD, manager="rm1", role="regional_manager", region_id="R01").status_code == 200
    assert _get(board, BOARD, manager="admin", role="org_admin").status_code == 200
    for wrong in (
        {"manager": "sm2", "role": "site_manager", "region_id": "R02", "site_id": "S0002"},
        {"manager": "sm3", "role": "site_manager", "region_id": "R01", "site_id": "S0003"},
        {"manager": "rm2", "role": "regional_manager", "region_id": "R02"},
    ):
        for path in (BOARD, f"{BOARD}/print"):
            assert _get(board, path, **wrong).status_code == 404, (wrong, path)
    anonymous = _get(board, BOARD)
    assert anonymous.status_code == 303 and "/manager/sign-in" in anonymous.headers["Location"]
    assert _get(board, "/sites/S9999/board", **SM1).status_code == 404

    # The people who live there: a signed board link for their site, and only for it.
    token = auth.issue_board_token(settings.secret_key, "S0001", f"checker:{SAMIRA[0]}")
    mine = _get(board, f"{BOARD}?t={token}")
    assert mine.status_code == 200 and "We mended the back door lock." in mine.get_data(as_text=True)
    assert "A link for the people who live here" not in mine.get_data(as_text=True)  # that is for managers
    assert f"/board/print?t={token}" in mine.get_data(as_text=True)
    assert _get(board, f"{BOARD}/print?t={token}").status_code == 200
    assert _get(board, f"/sites/S0002/board?t={token}").status_code == 404
    assert _get(board, f"{BOARD}?t={token}x").status_code == 401
    manager_token = auth.issue_manager_token(settings.secret_key, auth.Principal("sm1", "site_manager", "R01", "S0001"))
    assert _get(board, f"{BOARD}?t={manager_token}").status_code == 401  # not a board link
    with pytest.raises(auth.AuthError, match="run out"):
        auth.read_board_token(settings.secret_key, token, max_age=-1)


def test_the_manager_gets_a_working_link_to_hand_on_and_the_boards_list(board):
    page = _get(board, BOARD, **SM1).get_data(as_text=True)
    link = re.search(r"<code>([^<]+)</code>", page).group(1).replace("&amp;", "&")
    path = link.split(board["settings"].notify_public_url.rstrip("/"), 1)[1]
    assert _get(board, path).status_code == 200
    listing = _get(board, "/manager/boards", manager="rm1", role="regional_manager", region_id="R01")
    text = listing.get_data(as_text=True)
    assert 'href="/sites/S0001/board"' in text and "S0002" not in text
    inbox = _get(board, "/manager/alerts", **SM1).get_data(as_text=True)
    assert f'href="{board["settings"].notify_public_url}/manager/boards"' in inbox  # the managers' navigation
    alert_page = _get(board, f"/manager/alerts/{board['fixed']['_id']}", **SM1).get_data(as_text=True)
    assert f'href="{BOARD}"' in alert_page


def test_a_board_link_stops_with_its_holders_links(board, db):
    """Stopped links, deactivation or a move to another site end a board link given before; a new one works."""
    settings = board["settings"]
    knowledge = Knowledge(db)
    samira = {
        "entity": "person",
        "id": SAMIRA[0],
        "name": SAMIRA[1],
        "role": "checker",
        "site_id": "S0001",
        "active": True,
    }
    given = auth.issue_board_token(settings.secret_key, "S0001", f"checker:{SAMIRA[0]}")
    assert _get(board, f"{BOARD}?t={given}").status_code == 200
    later = events.now() + dt.timedelta(seconds=2)  # links stopped after the link was made
    knowledge.apply_directory({**samira, "links_reset_at": events.isoformat(later)})
    stopped = _get(board, f"{BOARD}?t={given}")
    assert stopped.status_code == 401 and "has been stopped" in stopped.get_data(as_text=True)
    knowledge.apply_directory(samira)
    assert _get(board, f"{BOARD}?t={given}").status_code == 200
    knowledge.apply_directory({**samira, "active": False})
    assert _get(board, f"{BOARD}?t={given}").status_code == 401
    knowledge.apply_directory({**samira, "site_id": "S0002"})
    assert _get(board, f"{BOARD}?t={given}").status_code == 401
    for holder in ("checker:C-nobody", "manager:nobody", "someone"):
        unknown = auth.issue_board_token(settings.secret_key, "S0001", holder)
        assert _get(board, f"{BOARD}?t={unknown}").status_code == 401, holder
    manager_link = auth.issue_board_token(settings.secret_key, "S0001", "manager:sm1")
    assert _get(board, f"{BOARD}?t={manager_link}").status_code == 200
