"""Operator CLI: ``qc topics | demo-seed | demo-checks | directory | checker-link | replay | deadletter | retention |
status``"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qc import auth, mongo
from qc.failures import is_transient
from qc.kafka import Publisher, create_topics
from qc.settings import TOPICS, InsecureSettings, Settings
from qc_tools.deadletter_commands import cmd_deadletter_list, cmd_deadletter_replay
from qc_tools.demo_directory import demo_directory
from services.checks.jobs.directory_events import directory_event, publish_all
from services.checks.rules.directory_file import directory_problems
from services.checks.stores.directory import Directory


def _publisher(settings: Settings) -> Publisher:
    return Publisher.for_settings(settings, "qc-cli", source="qc/cli")


def cmd_topics_create(settings: Settings, args) -> int:
    """Create every topic (idempotent)."""
    made = create_topics(settings)
    print(f"topics created: {', '.join(made) if made else 'none (all exist)'}")
    return 0


def _load(settings: Settings, entities: dict) -> int:
    directory = Directory.for_settings(settings, mongo.connect(settings, "qc-cli"))
    directory.ensure_indexes()
    for entity in ("region", "site", "person"):
        for doc in entities.get(entity, []):
            directory.upsert(entity, doc)
    publisher = _publisher(settings)
    try:
        return publish_all(directory, publisher, settings.secret_key)
    finally:
        publisher.close()


def cmd_demo_seed(settings: Settings, args) -> int:
    """Load demo regions, sites and people and write their credentials."""
    directory = Directory.for_settings(settings, mongo.connect(settings, "qc-cli"))
    if args.if_empty and not directory.is_empty():
        print("directory already has sites; demo data not loaded")
        return 0
    entities, credentials = demo_directory(args.sites)
    published = _load(settings, entities)
    for checker in credentials["checkers"]:
        directory.add_checker_token(
            checker["checker_id"], checker["site_id"], auth.hash_checker_token(checker["token"])
        )
    path = args.credentials or settings.var_dir / "demo-credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(credentials, indent=1))
    path.chmod(0o600)
    print(
        f"demo data: {len(entities['site'])} sites, {len(entities['person'])} people; "
        f"{published} directory events; credentials in {path}"
    )
    return 0


def cmd_directory_import(settings: Settings, args) -> int:
    """Load regions, sites and people from a JSON file ({"regions": [], "sites": [], "people": []})."""
    raw = json.loads(Path(args.file).read_text())
    entities = {"region": raw.get("regions", []), "site": raw.get("sites", []), "person": raw.get("people", [])}
    problems = directory_problems(raw)
    if problems:
        print("nothing was imported; correct these and try again:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    for docs in entities.values():
        for doc in docs:
            if "id" in doc:
                doc["_id"] = doc.pop("id")
            doc.setdefault("active", True)
            if "password" in doc:
                doc["password_hash"] = auth.password_hasher().hash(doc.pop("password"))
    published = _load(settings, entities)
    print(f"imported; {published} directory events published")
    return 0


def cmd_checker_link(settings: Settings, args) -> int:
    """Stop a checker's links and (unless --stop) make a new personal sign-in link and print it."""
    import getpass

    directory = Directory.for_settings(settings, mongo.connect(settings, "qc-cli"))
    person = directory.person(args.checker_id)
    if person is None or person.get("role") != "checker" or not person.get("active", True):
        print(f"no active checker {args.checker_id}", file=sys.stderr)
        return 1
    by = f"cli:{getpass.getuser()}"
    if not args.keep_old:
        # A new link is usually for a lost or shared phone: the old ones must stop, and the board links too.
        stopped, person = directory.stop_links(person["_id"], by, None)
        publisher = _publisher(settings)
        try:
            publisher.send(
                TOPICS["directory"], person["_id"], directory_event("person", person, secret_key=settings.secret_key)
            )
            publisher.flush()
        finally:
            publisher.close()
        print(f"stopped {stopped} older link(s) of {person['_id']}", file=sys.stderr)
    if args.stop:
        return 0
    token = auth.new_checker_token()
    directory.add_checker_token(person["_id"], person["site_id"], auth.hash_checker_token(token))
    directory.log_link(person["_id"], "issued", by, None, 1)
    print(f"{settings.checks_public_url.rstrip('/')}/s/{token}")
    return 0


def cmd_replay(settings: Settings, args) -> int:
    """Rebuild every roll-up from the validated topic into fresh collections and switch over."""
    from services.aggregate.jobs.replay import replay_from_start

    if not args.from_start:
        print("only --from-start is supported", file=sys.stderr)
        return 2
    from services.aggregate.jobs.replay import ReplayError

    try:
        figures = replay_from_start(settings, mongo.connect(settings, "qc-cli"))
    except ReplayError as e:
        print(f"replay refused: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        if not is_transient(e):
            raise
        print(
            f"the broker or database is unavailable ({type(e).__name__}); nothing was changed, run it again later",
            file=sys.stderr,
        )
        return 1
    print("replay done: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    return 0


def cmd_demo_checks(settings: Settings, args) -> int:
    """Send generated checks from the demo checkers through the intake API (the real path)."""
    from qc_tools.demo_checks import send_demo_checks

    path = args.credentials or settings.var_dir / "demo-credentials.json"
    figures = send_demo_checks(
        settings.checks_public_url, json.loads(path.read_text()), args.count, args.seed, confidence=True
    )
    print("demo checks: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    return 0 if figures["failed"] == 0 else 1


def cmd_status(settings: Settings, args) -> int:
    """Every process of the `make run` stack: pid, state, uptime, restarts, memory, ready."""
    from qc_tools import status

    found = status.rows(settings)
    print(json.dumps(found, indent=1) if args.json else status.table(found))
    return 0 if found and all(r["ready"] for r in found) else 1


def cmd_retention_run(settings: Settings, args) -> int:
    """Anonymise submissions older than QC_RETENTION_DAYS in every service's store; print the counts."""
    from pymongo.errors import ConnectionFailure

    from services.aggregate.jobs import retention as aggregate_retention
    from services.checks.jobs import retention as checks_retention
    from services.notify.jobs import retention as notify_retention

    if settings.retention_days <= 0:
        print("retention is off (QC_RETENTION_DAYS=0): everything is kept")
        return 0
    db = mongo.connect(settings, "qc-cli")
    try:
        verb = "would change" if args.dry_run else "changed"
        for service in (checks_retention, aggregate_retention, notify_retention):
            counts = service.run(db, settings, dry_run=args.dry_run)
            print(f"{service.SERVICE}: {verb} " + ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in counts.items()))
    except ConnectionFailure as e:
        print(
            f"the database is unavailable ({type(e).__name__}); nothing more was done, run it again later",
            file=sys.stderr,
        )
        return 1
    finally:
        db.client.close()
    print(f"cut-off: received more than {settings.retention_days} days ago")
    return 0


# Commands whose results are signed with QC_SECRET_KEY (anonymised ids, directory events): they need a real key.
_SIGNS = (cmd_retention_run, cmd_demo_seed, cmd_directory_import, cmd_checker_link)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``qc``."""
    parser = argparse.ArgumentParser(prog="qc", description="Quality checks operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    topics = sub.add_parser("topics", help="manage Kafka topics").add_subparsers(dest="action", required=True)
    topics.add_parser("create", help="create every topic").set_defaults(func=cmd_topics_create)
    seed = sub.add_parser("demo-seed", help="load demo data")
    seed.add_argument("--sites", type=int, default=1500)
    seed.add_argument("--if-empty", action="store_true", help="only when no site exists yet")
    seed.add_argument("--credentials", type=Path, help="where to write credentials")
    seed.set_defaults(func=cmd_demo_seed)
    directory = sub.add_parser("directory", help="the directory").add_subparsers(dest="action", required=True)
    imp = directory.add_parser("import", help="import regions, sites and people from JSON")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_directory_import)
    link = sub.add_parser("checker-link", help="make a checker's sign-in link (their older links stop)")
    link.add_argument("checker_id")
    what = link.add_mutually_exclusive_group()
    what.add_argument("--stop", action="store_true", help="only stop every link of theirs; make none")
    what.add_argument("--keep-old", action="store_true", help="keep their older links working (a second phone)")
    link.set_defaults(func=cmd_checker_link)
    replay = sub.add_parser("replay", help="rebuild roll-ups from the validated topic")
    replay.add_argument("--from-start", action="store_true", required=True)
    replay.set_defaults(func=cmd_replay)
    checks = sub.add_parser("demo-checks", help="send generated checks through the intake API")
    checks.add_argument("--count", type=int, default=3000)
    checks.add_argument("--seed", type=int, default=1)
    checks.add_argument("--credentials", type=Path, help="demo credentials file")
    checks.set_defaults(func=cmd_demo_checks)
    dead = sub.add_parser("deadletter", help="inspect and re-drive dead letters").add_subparsers(
        dest="action", required=True
    )
    dl_list = dead.add_parser("list", help="one line per dead letter (never the payload)")
    dl_list.add_argument("--limit", type=int, default=100, help="show the newest N (default 100)")
    dl_list.add_argument("--topic", help="only those that came from this topic")
    dl_list.set_defaults(func=cmd_deadletter_list)
    dl_replay = dead.add_parser("replay", help="send dead letters back to their original topic")
    which = dl_replay.add_mutually_exclusive_group()
    which.add_argument("--id", action="append", help="a dead letter's id (from list); repeatable")
    which.add_argument("--all", action="store_true", help="every dead letter (with --topic: from that topic)")
    dl_replay.add_argument("--topic", help="only those that came from this topic")
    dl_replay.add_argument("--dry-run", action="store_true", help="say what would be sent; send nothing")
    dl_replay.add_argument("--force", action="store_true", help="send again even if replayed before")
    dl_replay.set_defaults(func=cmd_deadletter_replay)
    status = sub.add_parser("status", help="every process of the make run stack and whether it is ready")
    status.add_argument("--json", action="store_true", help="as JSON")
    status.set_defaults(func=cmd_status)
    kept = sub.add_parser("retention", help="anonymise old submissions").add_subparsers(dest="action", required=True)
    ret_run = kept.add_parser("run", help="remove free text and checker identity older than QC_RETENTION_DAYS")
    ret_run.add_argument("--dry-run", action="store_true", help="count what would change; change nothing")
    ret_run.set_defaults(func=cmd_retention_run)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    installed = settings.var_dir / "secret-key"
    if not settings.secret_key and installed.exists():
        # After `make run`, the operator's shell has no QC_SECRET_KEY: this install's own key is the one.
        settings = settings.replace(secret_key=installed.read_text().strip())
    if args.func in _SIGNS:
        try:
            settings = settings.checked()
        except InsecureSettings as e:
            print(f"refusing: {e}", file=sys.stderr)
            return 2
    return args.func(settings, args)


if __name__ == "__main__":
    sys.exit(main())
