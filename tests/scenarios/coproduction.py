"""Checks for staff team feedback, confidence and the Working Together for Change pack, with what they must show.

Shared by the integration tests (figures over the database) and the browser tests (the same pages on a phone).
"""

from __future__ import annotations

import uuid

from qc import events

KEY = ("listened-to", "respect")
CONFIDENCE = "things-will-get-better"
BANDS = {3: "good", 2: "ok", 1: "not_good"}
HIDDEN_COMMENT = "Only Dana said this about respect"
NOT_ENOUGH = "Not enough answers to show (fewer than 3 people)"


def check(site, visited_on, checker, scores, region="R01", comments=None, confidence=None, version=2, **extra):
    """A validated check; ``scores`` {question: score}; the confidence question only with question set v2."""
    comments = comments or {}
    answers = [
        {"question_id": q, "score": s, "comment": comments.get(q, ""), "safety": q == "respect"}
        for q, s in scores.items()
    ]
    if version == 2:
        answers.append({"question_id": CONFIDENCE, "score": confidence, "comment": "", "safety": False})
    data = {
        "submission_id": str(uuid.uuid4()),
        "checker_id": checker,
        "site_id": site,
        "region_id": region,
        "question_set": {"id": "everyday-life", "version": version},
        "visited_on": visited_on,
        "answers": answers,
        "working": [],
        "not_working": [],
        "urgent_concern": None,
        "received_at": f"{visited_on}T10:00:00.000Z",
        "validated_at": f"{visited_on}T10:00:01.000Z",
        "content_hash": "0" * 64,
        **extra,
    }
    return events.make_event("org.qc.submission.validated", source="t", subject=data["submission_id"], data=data)


CHECKS = [
    # November: three people answer "listened-to" (one of them twice); only two answer "respect".
    check(
        "S1",
        "2026-11-02",
        "c1",
        {"listened-to": 3, "respect": 3},
        confidence=3,
        comments={"listened-to": "They listen, ring me on 07700 900123"},
    ),
    check("S1", "2026-11-09", "c1", {"listened-to": 3, "respect": 2}, confidence=3),
    check(
        "S1", "2026-11-10", "c2", {"listened-to": 2, "respect": 1}, confidence=2, comments={"respect": HIDDEN_COMMENT}
    ),
    check("S1", "2026-11-20", "c3", {"listened-to": 1, "respect": None}, confidence=1),
    # October: one person, three checks: three answers, but one person.
    check("S1", "2026-10-01", "c1", {"listened-to": 1, "respect": 1}, confidence=None),
    check("S1", "2026-10-08", "c1", {"listened-to": 1, "respect": 1}, confidence=2),
    check("S1", "2026-10-15", "c1", {"listened-to": 2, "respect": 1}, confidence=2),
    # September: four people, with question set v1 (no confidence question).
    *[
        check("S1", f"2026-09-{d:02d}", c, {"listened-to": s, "respect": 3}, version=1)
        for d, c, s in ((3, "c1", 3), (4, "c2", 3), (5, "c3", 2), (6, "c4", 1))
    ],
    # Another site of the region, and another region.
    check("S2", "2026-11-05", "c5", {"listened-to": 2, "respect": 2}, confidence=1),
    check("S3", "2026-11-05", "c6", {"listened-to": 3, "respect": 3}, region="R02", confidence=3),
]


PACK_CHECKS = [
    check(
        "S1",
        "2026-11-06",
        "c1",
        {"listened-to": 3},
        working=["The food is lovely, email me at al@example.org"],
        not_working=["Nobody answers the phone, call 0161 496 0000"],
        texts_share="named",
    ),
    check("S2", "2026-11-04", "c5", {"listened-to": 3}, working=["Tasty meals", "Tasty meals"], not_working=[]),
    check("S1", "2026-11-05", "c2", {"listened-to": 3}, working=["nice food", "good meals", "more food"]),
    check("S3", "2026-11-05", "c6", {"listened-to": 3}, region="R02", working=["Food in R02 is great"]),
]
