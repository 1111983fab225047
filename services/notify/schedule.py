"""notify's timed work: escalations, overdue sites, checkers' reminders before a check is due, the daily
digest, silence reminders, late actions, and actions the checkers could not be told of when they changed."""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo

from qc import events, schedules
from qc.settings import Settings
from services.notify import action_events, actions, reminders
from services.notify import rules as alert_rules
from services.notify.delivery import render
from services.notify.reminders import Reminders

log = logging.getLogger(__name__)


class Scheduler:
    """Runs each job when its time has come; called from the worker's tick."""

    def __init__(self, settings: Settings, rules, db, mailer, clock=events.now):
        self.settings = settings
        self.overdue_rules = alert_rules.rules_for(rules, "schedule")
        self.state = db["notify_state"]
        self.mailer = mailer
        self.tz = zoneinfo.ZoneInfo(settings.timezone)
        self.clock = clock  # injectable, so tests can move time on
        self.reminders = Reminders(db)
        self._last_run = self._last_overdue = self._last_reminders = -float("inf")

    def run(self, handler) -> None:
        """Do whatever is due."""
        clock = time.monotonic()
        if clock - self._last_run >= self.settings.scheduler_interval_seconds:
            self._last_run = clock
            self.escalate(handler)
            self.digest(handler)
            self.remind_silences(handler)
            self.escalate_late_actions(handler)
            action_events.tell_untold(handler.publisher, actions.Actions(self.state.database))
        if self.overdue_rules and clock - self._last_overdue >= self.settings.overdue_check_seconds:
            self._last_overdue = clock
            self.overdue(handler)
        if clock - self._last_reminders >= self.settings.overdue_check_seconds:
            self._last_reminders = clock
            self.remind_checkers(handler)

    def escalate(self, handler) -> int:
        """Tell more people about critical and high alerts nobody has acknowledged in time."""
        now = self.clock()
        done = 0
        for alert in handler.store.due_for_escalation(now):
            if not handler.store.mark_escalated(alert["_id"], now):
                continue
            people = handler.knowledge.people(alert["escalate_to"], alert)
            silenced = handler.silences.silencing(alert, now) is not None
            handler.deliveries.plan(alert, people, purpose="escalation", silenced=silenced)
            log.warning("alert escalated", extra={"alert_id": alert["_id"], "people": len(people)})
            done += 1
        return done

    def digest(self, handler, force: bool = False) -> int:
        """Once a day from ``digest_hour``: each person's waiting warnings in one e-mail."""
        local = self.clock().astimezone(self.tz)
        today = local.date().isoformat()
        state = self.state.find_one({"_id": "digest"}) or {}
        if not force and (local.hour < self.settings.digest_hour or state.get("last_date") == today):
            return 0
        sent, failed = handler.deliveries.send_digests(handler.store.get)
        if not failed:  # on a failure, try again at the next run today
            self.state.replace_one({"_id": "digest"}, {"_id": "digest", "last_date": today}, upsert=True)
        return sent

    def overdue(self, handler) -> int:
        """Raise an alert for every site whose check is the rule's number of days past its due day."""
        today = self.clock().astimezone(self.tz).date()
        intervals, raised = handler.knowledge.region_intervals(), 0
        for rule in self.overdue_rules:
            for site in handler.knowledge.active_sites():
                due = schedules.due(site, intervals, not_before_first_seen=True)
                candidate = alert_rules.evaluate_overdue(rule, site, due, today) if due else None
                if candidate:
                    handler.raise_alert(candidate, {"since": due.since.isoformat()}, None)
                    raised += 1
        return raised

    def remind_checkers(self, handler) -> int:
        """A gentle e-mail to each checker (or their supporter) a few days before their site's check is due."""
        today = self.clock().astimezone(self.tz).date()
        url = self.settings.checks_public_url.rstrip("/") + "/"
        return reminders.send_due(handler.knowledge, self.reminders, self.mailer, url, today)

    def remind_silences(self, handler) -> int:
        """E-mail each silence's owner a day (by default) before it ends."""
        now = self.clock()
        reminded = 0
        before = dt.timedelta(hours=self.settings.silence_reminder_hours)
        for silence in handler.silences.needing_reminder(now, before):
            person = handler.knowledge.person_by_username(silence["owner"])
            if person and person.get("email"):
                subject = "A silence you set on quality check alerts ends soon"
                message = render("silence_reminder", subject, silence=silence)
                try:
                    self.mailer.send(person["email"], *message)
                except OSError:  # smtplib errors are OSErrors too; try again next run
                    log.warning("silence reminder not sent; will retry", extra={"silence_id": silence["_id"]})
                    continue
            handler.silences.mark_reminded(silence["_id"])
            reminded += 1
        return reminded

    @staticmethod
    def _place_name(handler, action: dict) -> str:
        """A site's name, or "all of <region>" for an action about a whole region."""
        if action.get("site_id"):
            return (handler.knowledge.site(action["site_id"]) or {}).get("name") or action["site_id"]
        region = handler.knowledge.regions.find_one({"_id": action.get("region_id")}) or {}
        return f"all of {region.get('name') or action.get('region_id')}"

    def escalate_late_actions(self, handler) -> int:
        """Tell the regional manager, once, about each action past its day and not done (nor said won't be)."""
        store = actions.Actions(self.state.database)
        today = self.clock().astimezone(self.tz).date()
        told = 0
        for action in store.late(today):
            if not store.mark_escalated(action["_id"]):
                continue  # another run has it
            place = self._place_name(handler, action)
            people = handler.knowledge.people(["regional_manager"], action)
            message = render(
                "action_late",
                f"An action at {place} is late",
                action=action,
                site_name=place,
                about=actions.about_words(action["about"], self.settings),
                link=f"{self.settings.notify_public_url.rstrip('/')}/manager/actions/{action['_id']}",
            )
            for person in people:
                try:
                    self.mailer.send(person["email"], *message)
                except OSError:  # told in the inbox's home page anyway; not worth a second e-mail storm
                    log.warning("late action e-mail not sent", extra={"action_id": action["_id"]})
            log.info("late action passed up", extra={"action_id": action["_id"], "people": len(people)})
            told += 1
        return told
