"""Versioned YAML files (themes, alert rules, team feedback questions): read, version check, every bad item named.

Each file is ``version: N`` and a list under one key. One error names the
file and every wrong item, so whoever edits it fixes them all in one go.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

T = TypeVar("T")


class YamlFileError(ValueError):
    """A versioned YAML file is wrong; the message names the file and each wrong item."""


def load_versioned_yaml(
    path: Path,
    key: str,
    item: Callable[[str, object], T],
    *,
    version: int = 1,
    error: type[YamlFileError] = YamlFileError,
) -> list[T]:
    """Read ``path``, check ``version`` and the list under ``key``, and make each entry with ``item``.

    ``item(where, raw)`` gets ``"<key>[<i>]"`` and the entry as parsed, and
    raises ``error`` (message starting with ``where``) if the entry is wrong.
    The wrong entries are raised together, as one ``error`` naming the file.
    """
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise error(f"{path}: cannot read {key}: {e}") from e
    if not isinstance(doc, dict) or doc.get("version") != version or not isinstance(doc.get(key), list):
        raise error(f"{path}: expected 'version: {version}' and a list under '{key}'")
    out, problems = [], []
    for i, raw in enumerate(doc[key]):
        try:
            out.append(item(f"{key}[{i}]", raw))
        except error as e:
            problems.append(str(e))
    if problems:
        raise error(f"{path}: " + "; ".join(problems))
    return out
