"""The validator's decisions: one small document each, inserted once, never rewritten.

A claimed check's record (store.py) is intake's; the validator's decision on
it goes into a collection of its own, keyed by the same submission_id, so the
unique ``_id`` keeps "the first decision stands" and deciding is an insert
(about 0.2 ms a check on SecantusDB, where a guarded update of the record was
1.3-1.6 ms and the database's largest single cost at 100 checks/s:
docs/benchmarks.md, ninth round). Readers see a record with its decision laid
over it (``lay_over``). A record decided in place keeps its own: one the
validator made for a check nobody claimed (a replay of the log: one insert,
not two), or one decided before decisions had a collection of their own.
"""

from __future__ import annotations

from pymongo.database import Database

from qc.mongo import find_in

FIELDS = ("status", "reasons", "region_id", "decided_at")


class Decisions:
    """The ``decisions`` collection, keyed by submission_id."""

    def __init__(self, db: Database):
        self.collection = db["decisions"]

    def of(self, submission_ids) -> dict[str, dict]:
        """The decisions among these ids, by id (a query per hundred)."""
        return {d["_id"]: d for d in find_in(self.collection, "_id", submission_ids)}


def lay_over(db: Database, records: list[dict]) -> list[dict]:
    """The records, each undecided one with its decision (if any) laid over it: status, reasons, region, when."""
    waiting = [r["_id"] for r in records if "decided_at" not in r]
    found = Decisions(db).of(waiting) if waiting else {}
    for record in records:
        decision = found.get(record["_id"])
        if decision is not None:
            record.update({f: decision[f] for f in FIELDS})
    return records
