"""Ops configure the stack from the README's table: every setting must be in it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from qc.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_configuration_table():
    text = README.read_text()
    table = text[text.index("## Configuration") :]
    table = table[: table.index("\n## ", 1)]
    documented = set(re.findall(r"`(QC_[A-Z0-9_]+)`", table))
    expected = {"QC_" + f.name.upper() for f in dataclasses.fields(Settings)}
    assert expected - documented == set(), "settings missing from README's Configuration table"
    assert documented - expected == set(), "README documents settings that do not exist"
