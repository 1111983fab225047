"""Demo data: regions, sites, managers and checkers, with their credentials."""

from __future__ import annotations

import random
import secrets

from qc import auth

_NAMES = ("Oak", "Ash", "Birch", "Cedar", "Elm", "Hazel", "Holly", "Larch", "Maple", "Rowan", "Willow", "Yew")
_KINDS = ("House", "Court", "Lodge", "View", "Gardens", "Place")
# The demo's twelve regions, named as managers would name them (pages show names, not ids).
REGION_NAMES = (
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
    "Wales",
    "Scotland",
    "Northern Ireland",
)


def demo_directory(n_sites: int, seed: int = 2026) -> tuple[dict, dict]:
    """(entities, credentials): 12 regions, ``n_sites`` sites, a manager each, a checker each."""
    rng = random.Random(seed)
    hasher = auth.password_hasher()
    regions = [{"_id": f"R{r:02d}", "name": name, "active": True} for r, name in enumerate(REGION_NAMES, start=1)]
    sites, people, checkers, managers = [], [], [], []
    # One password for all demo site managers: argon2 is slow on purpose and
    # hashing 1,500 of them would make `make run` take minutes.
    site_password = secrets.token_urlsafe(12)
    site_hash = hasher.hash(site_password)

    def manager(person_id, username, role, name, region_id=None, site_id=None, password=None, password_hash=None):
        if password_hash is None:
            password = secrets.token_urlsafe(12)
            password_hash = hasher.hash(password)
        people.append(
            {
                "_id": person_id,
                "name": name,
                "role": role,
                "username": username,
                "email": f"{username}@demo.qc.localhost",
                "region_id": region_id,
                "site_id": site_id,
                "password_hash": password_hash,
                "active": True,
            }
        )
        managers.append(
            {"username": username, "password": password, "role": role, "region_id": region_id, "site_id": site_id}
        )

    for i in range(1, n_sites + 1):
        site_id, region_id = f"S{i:04d}", regions[(i - 1) % 12]["_id"]
        # Every third demo site has chosen to e-mail checkers' supporters what managers did.
        tell = i % 3 == 1
        sites.append(
            {
                "_id": site_id,
                "name": f"{rng.choice(_NAMES)} {rng.choice(_KINDS)} {i:04d}",
                "region_id": region_id,
                "active": True,
                "tell_supporters": tell,
            }
        )
        manager(
            f"SM-{site_id}",
            f"sm-{site_id.lower()}",
            "site_manager",
            f"Manager of {site_id}",
            region_id,
            site_id,
            site_password,
            site_hash,
        )
        checker_id = f"C{i:05d}"
        people.append(
            {
                "_id": checker_id,
                "name": f"Checker {i:05d}",
                "role": "checker",
                "site_id": site_id,
                "region_id": region_id,
                "email": None,
                "supporter_email": f"supporter.{checker_id.lower()}@demo.qc.localhost" if tell else None,
                "active": True,
            }
        )
        checkers.append({"checker_id": checker_id, "site_id": site_id, "token": auth.new_checker_token()})
    for region in regions:
        manager(
            f"RM-{region['_id']}",
            f"rm-{region['_id'].lower()}",
            "regional_manager",
            f"Regional manager, {region['name']}",
            region["_id"],
        )
    manager("ADMIN", "admin", "org_admin", "Organisation administrator")
    manager("SG-1", "safeguarding", "safeguarding_lead", "Safeguarding lead")
    manager("IL-1", "involvement", "involvement_lead", "Involvement lead")  # runs the checkers programme
    entities = {"region": regions, "site": sites, "person": people}
    return entities, {"checkers": checkers, "managers": managers}
