"""A "You said, we did" board in every state it must show: fixed, open, worries, another region's alert.

Shared by the integration tests (content and anonymity) and the browser tests (the page on a phone).
"""

from __future__ import annotations

import uuid

from qc import events
from tests import builders

SAMIRA, TOM, LEE = ("C-7731", "Samira Quinn"), ("C-8802", "Tom Baker"), ("C-6604", "Lee Park")


def _answer(qid, score, share, comment=""):
    return {
        "question_id": qid,
        "score": score,
        "comment": comment,
        "safety": qid in ("feel-safe", "respect"),
        "share": share,
    }


def _feedback(alert_id, checker_id, answer):
    data = {
        "alert_id": alert_id,
        "submission_id": str(uuid.uuid4()),
        "checker_id": checker_id,
        "site_id": "S0001",
        "region_id": "R01",
        "answer": answer,
        "at": events.isoformat(events.now()),
    }
    return events.make_event("org.qc.fix.feedback", source="t", subject=alert_id, data=data)


def build_board(db, settings, publisher) -> dict:
    """Alerts on S0001 (and one on S0002) in every state the board must show; returns them by name."""
    handler = builders.notify_handler(db, settings, publisher)
    handler.knowledge.apply_directory(
        {"entity": "site", "id": "S0002", "name": "Ash House", "region_id": "R02", "active": True}
    )
    for checker_id, name in (SAMIRA, TOM, LEE):
        handler.knowledge.apply_directory(
            {
                "entity": "person",
                "id": checker_id,
                "name": name,
                "role": "checker",
                "site_id": "S0001",
                "active": True,
                "supporter_email": f"{checker_id.lower()}-supporter@test",
            }
        )
    samira = builders.validated(
        checker_id=SAMIRA[0],
        visited_on="2026-10-10",
        answers=[
            _answer("feel-safe", 1, "named", "The back door lock is broken"),
            _answer("respect", 1, "named", "One of the staff is rude to me"),
        ],
        urgent_concern="The night staff frighten me",
        urgent_concern_share="named",
    )
    # Lee named one answer but not the other: a name would give the other away, so neither is named.
    lee = builders.validated(
        checker_id=LEE[0],
        visited_on="2026-10-12",
        answers=[_answer("feel-safe", 1, "named"), _answer("respect", 1, "anonymous", "They ignore me")],
    )
    tom = builders.validated(
        checker_id=TOM[0],
        visited_on="2026-11-10",
        answers=[_answer("feel-safe", 1, "anonymous", "I hear shouting at night")],
        urgent_concern="Someone took money from my room",
    )
    elsewhere = builders.validated(
        site="S0002", region="R02", checker_id="C-9999", answers=[_answer("respect", 1, "named")]
    )
    handler.handle(builders.deliveries(samira, lee, tom, elsewhere))
    alerts = {}
    for a in handler.store.alerts.find():
        who = "elsewhere" if a["site_id"] == "S0002" else a["period"]
        alerts[(a["rule"], who if a["rule"] == "safety_not_good" else a["submission_ids"][0])] = a
    fixed = alerts[("safety_not_good", "2026-10")]
    open_one = alerts[("safety_not_good", "2026-11")]
    worry_open = alerts[("urgent_concern", tom["data"]["submission_id"])]
    worry_done = alerts[("urgent_concern", samira["data"]["submission_id"])]
    handler.store.transition(fixed["_id"], ("open",), "resolved", "sm1", {"response": "We mended the back door lock."})
    handler.store.transition(
        worry_done["_id"], ("open",), "resolved", "sg1", {"response": "We talked to the police about Night Nurse Ann."}
    )
    handler.handle(builders.deliveries(_feedback(fixed["_id"], SAMIRA[0], "better")))
    return {
        "fixed": fixed,
        "open": open_one,
        "worry_open": worry_open,
        "worry_done": worry_done,
        "elsewhere": alerts[("safety_not_good", "elsewhere")],
    }
