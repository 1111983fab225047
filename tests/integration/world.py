"""A world to test access in: three real apps over one database, two regions, managers of every role, checkers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid

from qc import auth, events, mongo, web
from qc.kafka import Publisher, make_producer
from services.aggregate.bootstrap import create_app as create_aggregate
from services.aggregate.stores.directory import SiteDirectory
from services.checks.bootstrap import create_app as create_checks
from services.checks.stores.directory import Directory
from services.checks.stores.profiles import Drafts
from services.notify.bootstrap import create_app as create_notify
from tests import builders

# --- builders ---


MANAGERS = {
    "admin": {"role": "org_admin"},
    "sg": {"role": "safeguarding_lead"},
    "inv": {"role": "involvement_lead"},
    "rm1": {"role": "regional_manager", "region_id": "R01"},
    "rm2": {"role": "regional_manager", "region_id": "R02"},
    "sm1": {"role": "site_manager", "region_id": "R01", "site_id": "S0001"},
    "sm2": {"role": "site_manager", "region_id": "R02", "site_id": "S0002"},
}


@dataclasses.dataclass
class World:
    """Three apps over one database: two regions, a site and a checker in each, managers, an alert, a silence."""

    settings: object
    apps: dict
    checker_tokens: dict
    manager_tokens: dict
    submission_id: str
    draft_id: str
    alert_id: str
    silence_id: str
    db: object
    publisher: object

    def fresh_alert(self) -> str:
        """A new open alert on S0001 (R01), for a request that changes one."""
        alert = {**self.db["alerts"].find_one({"_id": self.alert_id}), "_id": str(uuid.uuid4()), "status": "open"}
        alert["key"] = f"{alert['key']}:{alert['_id']}"
        self.db["alerts"].insert_one(alert)
        return alert["_id"]

    def fresh_silence(self) -> str:
        """A new silence in R01."""
        ends = events.now() + dt.timedelta(days=1)
        return (
            self.apps["notify"]
            .extensions["qc.notify"]
            .silences.create(
                "rm1", {"region_id": "R01", "rule": "low_score"}, ends, "works on the heating", events.now()
            )["_id"]
        )

    def fresh_draft(self, checker: str = "C1") -> str:
        """A new unsent draft of a checker."""
        token_hash = auth.hash_checker_token(self.checker_tokens[checker])
        record = self.apps["checks"].extensions["qc.checks"].directory.checker_for_token(token_hash)
        question_set = self.apps["checks"].extensions["qc.checks"].question_sets.current()
        return Drafts(self.db).start(record, question_set)["_id"]

    def fresh_rejected(self, checker: str = "C1") -> str:
        """A check of the checker's that was not counted for a reason they can put right (offered again)."""
        submission_id = str(uuid.uuid4())
        received = {
            "submission_id": submission_id,
            "checker_id": checker,
            "site_id": "S0001",
            "question_set": {"id": "everyday-life", "version": 2},
            "visited_on": dt.date.today().isoformat(),
            "content_hash": submission_id,
            "received_at": events.now(),
        }
        reasons = [{"code": "visit_in_future", "field": "visited_on", "message": "The visit date is in the future."}]
        self.apps["checks"].extensions["qc.checks"].submissions.record_decision(received, "rejected", reasons, "R01")
        return submission_id

    def close(self) -> None:
        """Close every client; drop the database."""
        for app in self.apps.values():
            app.extensions["qc.close"]()
        self.publisher.close()
        self.db.client.drop_database(self.settings.mongo_db)
        self.db.client.close()


# Limits high enough never to refuse a fuzzer, low enough that the limiter's code runs on every send.
NO_LIMITS = {
    "rate_limit_submissions_per_minute": 10**9,
    "rate_limit_submissions_per_address_per_minute": 10**9,
    "rate_limit_signin_per_minute": 10**9,
    "rate_limit_form_saves_per_minute": 10**9,
}


def build_world(settings, **overrides) -> World:
    """Everything the matrix and the fuzzer need, over the real broker and database."""
    config = {**dataclasses.asdict(settings), **overrides}
    apps = {"checks": create_checks(config), "aggregate": create_aggregate(config), "notify": create_notify(config)}
    # Reports made here are not told to the shared broker: the end-to-end tier's notify reads it (R01 too).
    apps["aggregate"].extensions["qc.aggregate"].right_of_reply.tell = lambda doc: False
    apps["checks"].extensions["qc.checks"].question_teller = lambda doc: False  # nor versions of the questions
    db = mongo.connect(settings, "qc-tests")
    directory = Directory(db)
    directory.ensure_indexes()
    agg_sites = SiteDirectory(db)
    checker_tokens = {}
    for n, (site, region) in enumerate((("S0001", "R01"), ("S0002", "R02")), start=1):
        directory.upsert("region", {"_id": region, "name": f"Region {n}", "active": True})
        directory.upsert("site", {"_id": site, "name": f"Site {n}", "region_id": region, "active": True})
        directory.upsert("person", {"_id": f"C{n}", "name": f"C{n}", "role": "checker", "site_id": site})
        checker_tokens[f"C{n}"] = auth.new_checker_token()
        directory.add_checker_token(f"C{n}", site, auth.hash_checker_token(checker_tokens[f"C{n}"]))
        agg_sites.apply({"entity": "site", "id": site, "name": f"Site {n}", "region_id": region, "active": True})
        agg_sites.apply({"entity": "person", "id": f"C{n}", "role": "checker", "site_id": site, "active": True})
    # C3 at S0001 is only for the routes that stop a checker's links (C1's must keep working for the rest).
    directory.upsert("person", {"_id": "C3", "name": "C3", "role": "checker", "site_id": "S0001"})
    checker_tokens["C3"] = auth.new_checker_token()
    directory.add_checker_token("C3", "S0001", auth.hash_checker_token(checker_tokens["C3"]))
    for username, claims in MANAGERS.items():
        directory.upsert(
            "person",
            {
                "_id": username.upper(),
                "username": username,
                "active": True,
                "password_hash": auth.password_hasher().hash(f"{username} password"),
                **claims,
            },
        )
    manager_tokens = {
        u: auth.issue_manager_token(settings.secret_key, auth.Principal(username=u, **c)) for u, c in MANAGERS.items()
    }
    with apps["checks"].test_client() as client:
        body = builders.intake_body()
        response = client.post(
            "/api/v1/submissions", json=body, headers={"Authorization": f"Bearer {checker_tokens['C1']}"}
        )
        assert response.status_code == 202, response.json
    publisher = Publisher(make_producer(settings, "qc-tests"), source="qc/tests", timeout=10)
    builders.notify_handler(db, settings, publisher).handle(builders.deliveries(builders.validated()))
    alert = db["alerts"].find_one({"site_id": "S0001"})
    world = World(
        settings=settings,
        apps=apps,
        checker_tokens=checker_tokens,
        manager_tokens=manager_tokens,
        submission_id=body["submission_id"],
        draft_id="",
        alert_id=alert["_id"],
        silence_id="",
        db=db,
        publisher=publisher,
    )
    world.draft_id = world.fresh_draft()
    # What the checks worker records once notify resolves the alert: the checker may then say if it is better.
    response = {"alert_id": world.alert_id, "status": "resolved", "response": "We mended it.", "at": "2026-11-20"}
    # ...and once an action about what the check said is done (services/checks/rules/action_news.py).
    about = {"kind": "question", "id": "respect"}
    done = {"action_id": "ACT1", "about": about, "status": "done", "what": "Knock", "done_words": "We knock."}
    db["submissions"].update_one(
        {"_id": world.submission_id},
        {"$set": {"status": "validated", "region_id": "R01"}, "$push": {"responses": {"$each": [response, done]}}},
    )
    world.silence_id = world.fresh_silence()
    return world


# A credential: (kind, name): kind is "bearer" (manager token), "session" (manager cookie),
# "checker" (checker bearer token), "phone" (checker's sign-in cookie).
Cred = tuple[str, str]


ANONYMOUS: Cred = ("none", "")


def request(world: World, service: str, method: str, path: str, cred: Cred, body=None):
    """One request from a fresh client with one credential (and the CSRF token a page form would carry)."""
    client = world.apps[service].test_client()
    kind, name = cred
    headers, data, json_body = {}, None, None
    if kind == "bearer":
        headers["Authorization"] = f"Bearer {world.manager_tokens[name]}"
    elif kind == "checker":
        headers["Authorization"] = f"Bearer {world.checker_tokens[name]}"
    elif kind == "session":
        client.set_cookie(web.MANAGER_COOKIE, world.manager_tokens[name])
    elif kind == "phone":
        client.set_cookie("qc_checker", world.checker_tokens[name])
    if method in ("POST", "DELETE"):
        if isinstance(body, dict) and body.get("__json__"):
            json_body = {k: v for k, v in body.items() if k != "__json__"}
            if kind == "phone":
                headers["X-CSRF-Token"] = checker_csrf(world, name)
        else:
            data = dict(body or {})
            if kind == "phone":
                data["csrf_token"] = checker_csrf(world, name)
            elif kind == "session":
                data["csrf_token"] = web.manager_csrf_token(world.settings, world.manager_tokens[name])
    response = client.open(path, method=method, headers=headers, data=data, json=json_body)
    response.get_data()  # read it all, then close: a file response (static) holds its file open until then
    response.close()
    return response


def checker_csrf(world: World, checker: str) -> str:
    client = world.apps["checks"].test_client()
    client.set_cookie("qc_checker", world.checker_tokens[checker])
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
