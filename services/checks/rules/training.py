"""The organisation's training for quality checkers, from deploy/training.yaml: its names, in plain words."""

from __future__ import annotations

import functools
from pathlib import Path

from qc.settings import ROOT
from qc.yamlfile import YamlFileError, load_versioned_yaml

PATH = ROOT / "deploy" / "training.yaml"
MAX_NAME = 200


def _name(where: str, raw) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_NAME:
        raise YamlFileError(f"{where}: a training's name, from 1 to {MAX_NAME} characters")
    return raw.strip()


@functools.lru_cache(maxsize=4)
def names(path: Path = PATH) -> tuple[str, ...]:
    """The training's names, in the file's order; YamlFileError naming what is wrong."""
    return tuple(load_versioned_yaml(path, "training", _name))
