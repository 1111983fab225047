"""Ops configure the stack from docs/configuration.md: every setting must be in its table, and only settings."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from qc.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"


def test_every_setting_is_documented_in_the_configuration_table():
    documented = set(re.findall(r"`(QC_[A-Z0-9_]+)`", CONFIGURATION.read_text()))
    expected = {"QC_" + f.name.upper() for f in dataclasses.fields(Settings)}
    assert expected - documented == set(), "settings missing from docs/configuration.md"
    assert documented - expected == set(), "docs/configuration.md documents settings that do not exist"


def test_the_readme_links_to_every_page_of_the_docs():
    readme = (ROOT / "README.md").read_text()
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert {page for page in pages if f"](docs/{page})" not in readme} == set()
    for page in (ROOT / "docs").glob("*.md"):  # and every relative link in the docs leads somewhere
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"
