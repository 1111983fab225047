"""``qc deadletter list | replay``: what went to the dead-letter topic and why, and sending it back."""

from __future__ import annotations

import getpass
import sys

from qc import deadletter, mongo
from qc.settings import Settings


def cmd_deadletter_list(settings: Settings, args) -> int:
    """One line per dead letter (newest ``--limit``): when, where from, group, id, replayed or not, why."""
    letters = deadletter.select(deadletter.read(settings), topic=args.topic)
    shown = letters[-args.limit :] if args.limit > 0 else []
    db = mongo.connect(settings, "qc-cli")
    try:
        replays = deadletter.replayed(db, [d.id for d in shown])
    finally:
        db.client.close()
    for letter in shown:
        print(deadletter.line(letter, replays.get(letter.id)))
    print(f"{len(shown)} of {len(letters)} dead letters shown", file=sys.stderr)
    return 0


def cmd_deadletter_replay(settings: Settings, args) -> int:
    """Send dead letters back to their original topic with their original key and bytes."""
    if not args.all and not args.id:
        print("say which: --id EVENT_ID (repeatable) or --all", file=sys.stderr)
        return 2
    letters = deadletter.select(deadletter.read(settings), topic=args.topic, ids=None if args.all else args.id)
    missing = sorted(set(args.id or []) - {d.id for d in letters})
    for event_id in missing:
        print(f"no dead letter {event_id}", file=sys.stderr)
    db = mongo.connect(settings, "qc-cli")
    try:
        outcomes = deadletter.replay(
            settings, db, letters, by=getpass.getuser(), dry_run=args.dry_run, force=args.force
        )
    finally:
        db.client.close()
    for outcome in outcomes:
        print(f"{outcome.action}  id={outcome.letter.id}  {outcome.detail}")
    counts = {a: sum(1 for o in outcomes if o.action == a) for a in ("replayed", "would-replay", "skipped", "failed")}
    print(", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
    return 1 if missing or counts["failed"] else 0
