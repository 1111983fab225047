"""notify's timed work: escalations, overdue sites, checkers' reminders before a check is due, the daily
digest, silence reminders, late actions, and actions the checkers could not be told of when they changed."""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from typing import Protocol

from qc import events, schedules
from qc.kafka import Publisher
from qc.settings import Settings
from services.notify.delivery.emails import Deliveries
from services.notify.delivery.messages import render
from services.notify.jobs import action_events, reminders
from services.notify.jobs.reminders import Reminders
from services.notify.rules import alerts as alert_rules
from services.notify.stores import actions
from services.notify.stores.actions import Actions
from services.notify.stores.alerts import AlertStore
from services.notify.stores.knowledge import Knowledge
from services.notify.stores.silences import Silences

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """What the timed jobs work on: the worker's stores and deliveries, and how it raises an alert."""

    store: AlertStore
    knowledge: Knowledge
    silences: Silences
    deliveries: Deliveries
    actions: Actions
    publisher: Publisher

    def raise_alert(self, candidate, details: dict, correlation_id: str | None, received_at: str | None = None): ...


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
        self._last_run = self._last_schedules = -float("inf")

    def run(self, handler: Notifier) -> None:
        """Do whatever is due."""
        clock = time.monotonic()
        if clock - self._last_run >= self.settings.scheduler_interval_seconds:
            self._last_run = clock
            self.escalate(handler)
            self.digest(handler)
            self.remind_silences(handler)
            self.escalate_late_actions(handler)
            action_events.tell_untold(handler.publisher, handler.actions)
        if clock - self._last_schedules >= self.settings.overdue_check_seconds:
            self._last_schedules = clock
            sites = self.sites_and_intervals(handler)  # one read of the sites for both jobs
            self.overdue(handler, sites)
            self.remind_checkers(handler, sites)

    def escalate(self, handler: Notifier) -> int:
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

    def digest(self, handler: Notifier, force: bool = False) -> int:
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

    @staticmethod
    def sites_and_intervals(handler: Notifier) -> tuple[list[dict], dict[str, str]]:
        """Every active site and the regions' check intervals (up to 1,500 sites: read once per run)."""
        return list(handler.knowledge.active_sites()), handler.knowledge.region_intervals()

    def overdue(self, handler: Notifier, sites: tuple[list[dict], dict[str, str]] | None = None) -> int:
        """Raise an alert for every site whose check is the rule's number of days past its due day."""
        if not self.overdue_rules:
            return 0
        today = self.clock().astimezone(self.tz).date()
        active, intervals = sites or self.sites_and_intervals(handler)
        raised = 0
        for site in active:
            due = schedules.due(site, intervals, not_before_first_seen=True)
            for rule in self.overdue_rules if due else ():
                candidate = alert_rules.evaluate_overdue(rule, site, due, today)
                if candidate:
                    handler.raise_alert(candidate, {"since": due.since.isoformat()}, None)
                    raised += 1
        return raised

    def remind_checkers(self, handler: Notifier, sites: tuple[list[dict], dict[str, str]] | None = None) -> int:
        """A gentle e-mail to each checker (or their supporter) a few days before their site's check is due."""
        today = self.clock().astimezone(self.tz).date()
        url = self.settings.checks_public_url.rstrip("/") + "/"
        active, intervals = sites or self.sites_and_intervals(handler)
        return reminders.send_due(handler.knowledge, active, intervals, self.reminders, self.mailer, url, today)

    def remind_silences(self, handler: Notifier) -> int:
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
    def _place_name(handler: Notifier, action: dict) -> str:
        """A site's name, or "all of <region>" for an action about a whole region."""
        if action.get("site_id"):
            return (handler.knowledge.site(action["site_id"]) or {}).get("name") or action["site_id"]
        region = handler.knowledge.regions.find_one({"_id": action.get("region_id")}) or {}
        return f"all of {region.get('name') or action.get('region_id')}"

    def escalate_late_actions(self, handler: Notifier) -> int:
        """Tell the regional manager, once, about each action past its day and not done (nor said won't be)."""
        store = handler.actions
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
