"""The involvement report: for a board, each quarter, what checkers gave and how their views shaped what happened.

Seed: "be clear about what kind of involvement people are being asked for, how much influence they have,
and how their views shaped the outcome". Computed from what checks already keeps (pure: no I/O here;
involvement_pages.py reads and shows it): the people (invited, agreed to take part, stopped), their time
and training (contributions), and each counted check's record, which keeps its answers' scores, the
themes of what it said is not working (ids, never words), and every response to it (alerts answered,
actions taken, "is it better now?"). Counts only: no names, no words anyone wrote.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from qc import events

BETTER_WORDS = {"better": "yes, better", "a_bit": "a bit better", "no": "not better"}


@dataclasses.dataclass(frozen=True)
class Window:
    first: dt.date
    last: dt.date

    def holds(self, day: str | None) -> bool:
        return bool(day) and self.first.isoformat() <= day[:10] <= self.last.isoformat()


def people(checkers: list[dict], window: Window) -> dict:
    """Checkers at the end of the period, those who came in during it, and those who stopped."""

    def record(p: dict) -> dict:
        return p.get("record") or {}

    def started(p: dict) -> str | None:
        return (record(p).get("consent") or {}).get("on") or (record(p).get("invited") or {}).get("on")

    def stopped_on(p: dict) -> str | None:
        return (record(p).get("stopped") or {}).get("on")

    def at_end(p: dict) -> bool:
        """A checker on the period's last day: started by then, and not stopped by then (a past period too)."""
        last = window.last.isoformat()
        if (started(p) or "") > last:
            return False
        if stopped_on(p):
            return stopped_on(p) > last
        return p.get("active", True)  # stopped with no day written (an old record): not counted

    there = [p for p in checkers if at_end(p)]
    return {
        "active": len(there),
        "new": sum(1 for p in checkers if window.holds(started(p))),
        "stopped": sum(1 for p in checkers if window.holds(stopped_on(p))),
        "agreed": sum(1 for p in there if record(p).get("consent")),
    }


def time_given(entries: list[dict], window: Window) -> dict:
    """Hours given and training done in the period (the managers' record of each checker's time)."""
    inside = [e for e in entries if window.holds(e.get("date"))]
    training = [e for e in inside if e.get("kind") == "training"]
    return {
        "hours": round(sum(e.get("hours") or 0 for e in inside), 1),
        "training_sessions": len(training),
        "people_trained": len({e["checker_id"] for e in training}),
    }


def checks(records: list[dict], active_sites: int, confidence_ids: frozenset[str]) -> dict:
    """Counted checks, the sites they covered, and how sure people were that things will get better."""
    counted = [r for r in records if r.get("status") == "validated" and r.get("kind", events.CHECK) == events.CHECK]
    sure = [
        a["score"] for r in counted for a in r.get("answers", ()) if a["question_id"] in confidence_ids and a["score"]
    ]
    return {
        "checks": len(counted),
        "sites_checked": len({r["site_id"] for r in counted}),
        "sites": active_sites,
        "confidence_answers": len(sure),
        "share_sure": round(sum(1 for s in sure if s == 3) / len(sure), 3) if sure else None,
    }


def said_and_done(records: list[dict], theme_labels: dict[str, str]) -> dict:
    """What checks said is not working (by theme), what managers did about it, and "is it better now?"."""
    counted = [r for r in records if r.get("status") == "validated"]
    themes: dict[str, int] = {}
    for r in counted:
        for theme in r.get("not_working_themes", ()):
            themes[theme] = themes.get(theme, 0) + 1
    actions: dict[str, str] = {}
    alerts: dict[str, str] = {}
    better = dict.fromkeys(BETTER_WORDS, 0)
    for r in counted:
        for response in r.get("responses", ()):
            if "action_id" in response:
                actions[response["action_id"]] = response["status"]
            elif "alert_id" in response:
                alerts[response["alert_id"]] = response["status"]
            answer = (response.get("feedback") or {}).get("answer")
            if answer in better:
                better[answer] += 1
    return {
        "not_working": [
            {"label": theme_labels.get(t, t), "checks": n} for t, n in sorted(themes.items(), key=lambda i: -i[1])
        ],
        "actions": len(actions),
        "actions_done": sum(1 for s in actions.values() if s == "done"),
        "actions_wont_do": sum(1 for s in actions.values() if s == "wont_do"),
        "alerts_answered": sum(1 for s in alerts.values() if s == "resolved"),
        "better": better,
    }


def csv_rows(report: dict) -> list[dict]:
    """The report as rows of (section, measure, value), for a spreadsheet."""
    rows = [{"section": "people", "measure": k, "value": v} for k, v in report["people"].items()]
    rows += [{"section": "time", "measure": k, "value": v} for k, v in report["time"].items()]
    rows += [{"section": "checks", "measure": k, "value": v} for k, v in report["checks"].items()]
    done = report["done"]
    rows += [{"section": "not working", "measure": t["label"], "value": t["checks"]} for t in done["not_working"]]
    rows += [
        {"section": "done", "measure": k, "value": done[k]}
        for k in ("actions", "actions_done", "actions_wont_do", "alerts_answered")
    ]
    rows += [{"section": "is it better now", "measure": BETTER_WORDS[k], "value": v} for k, v in done["better"].items()]
    rows += [{"section": "question sets", "measure": q, "value": n} for q, n in report["question_sets"].items()]
    shaped = report.get("shaped", [])
    rows += [
        {"section": "questions made with people", "measure": f"version {s['version']}", "value": s["words"]}
        for s in shaped
    ]
    return rows


CSV_COLUMNS = ["section", "measure", "value"]
