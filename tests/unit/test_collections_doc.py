"""docs/architecture.md's table of collections names every collection the code uses, with its owner."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_every_collection_the_code_names_is_in_the_collections_table():
    root = ROOT
    named = set()
    for path in [*root.glob("services/**/*.py"), *root.glob("qc/*.py")]:
        named |= set(re.findall(r'(?:db|database)\["([a-z_]+)"\]', path.read_text()))
    text = ARCHITECTURE.read_text()
    table = text[text.index("## Collections") : text.index("## Scaling")]
    documented = set(re.findall(r"`([a-z_]+)`", table))
    assert named, "the search for collections found none: the pattern is wrong"
    assert sorted(named - documented) == [], "collections missing from docs/architecture.md's table"
