"""Free-text answers grouped into themes by normalised keywords: simple and explainable (deploy/themes.yaml).

Shared: aggregate counts the themes, notify names them on actions, checks tells a checker what they said."""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

from qc.yamlfile import YamlFileError, load_versioned_yaml

OTHER = "other"
OTHER_LABEL = "Something else"
# Simple endings a keyword may take: "meal" matches "meals", "shout" matches
# "shouted" and "shouting", "activit" matches "activity" and "activities",
# but "tea" does not match "teacher".
_ENDINGS = ("", "s", "es", "ed", "d", "ing", "er", "ers", "y", "ies", "ly", "r", "ty")


class ThemesError(YamlFileError):
    """The themes file is wrong; the message says where."""


@dataclasses.dataclass(frozen=True)
class Theme:
    id: str
    label: str
    keywords: tuple[str, ...]


def load_themes(path: Path) -> list[Theme]:
    """Read and check deploy/themes.yaml."""
    seen: set[str] = set()

    def theme(where: str, raw) -> Theme:
        theme_id = raw.get("id") if isinstance(raw, dict) else None
        if not theme_id or theme_id in seen or theme_id == OTHER:
            raise ThemesError(f"{where}: 'id' must be unique and not '{OTHER}'")
        keywords = raw.get("keywords")
        if (
            not raw.get("label")
            or not isinstance(keywords, list)
            or not all(isinstance(k, str) and k for k in keywords)
        ):
            raise ThemesError(f"{where} ({theme_id}): needs a 'label' and a list of 'keywords'")
        seen.add(theme_id)
        return Theme(theme_id, raw["label"], tuple(normalise(k) for k in keywords))

    return load_versioned_yaml(path, "themes", theme, error=ThemesError)


@functools.lru_cache(maxsize=4)
def labels(path: Path) -> dict[str, str]:
    """Each theme's label by id, "Something else" included (read once: a list of actions names many)."""
    return {t.id: t.label for t in load_themes(path)} | {OTHER: OTHER_LABEL}


def normalise(text: str) -> str:
    """Lower case, letters and digits only, single spaces."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


@functools.lru_cache(maxsize=8)
def _index(themes: tuple[Theme, ...]) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """The themes of each one-word keyword, and the (theme, phrase) of each keyword of several words.

    A word matches a one-word keyword when it is the keyword plus one of ``_ENDINGS``: looked up by each
    of its few possible stems, not by trying every keyword (classify runs on each check sent)."""
    words: dict[str, set[str]] = {}
    phrases = []
    for theme in themes:
        for keyword in theme.keywords:
            if " " in keyword:
                phrases.append((theme.id, f" {keyword} "))
            else:
                words.setdefault(keyword, set()).add(theme.id)
    return words, phrases


def classify(text: str, themes: list[Theme]) -> list[str]:
    """The ids of every theme a text belongs to (in the themes' order), or ``[OTHER]``."""
    by_word, phrases = _index(tuple(themes))
    clean = normalise(text)
    found: set[str] = set()
    for word in clean.split():
        for ending in _ENDINGS:
            if word.endswith(ending):
                found |= by_word.get(word[: len(word) - len(ending)], set())
    padded = f" {clean} "
    found |= {theme_id for theme_id, phrase in phrases if phrase in padded}
    return [t.id for t in themes if t.id in found] or [OTHER]


def group(facts: list[dict], themes: list[Theme]) -> dict[str, list[dict]]:
    """For "working" and "not_working": each theme's count and the submissions behind it, biggest first."""
    labels = {t.id: t.label for t in themes} | {OTHER: OTHER_LABEL}
    out = {}
    for kind in ("working", "not_working"):
        buckets: dict[str, set[str]] = {}
        mentions: dict[str, int] = {}
        for fact in facts:
            for text in fact.get(kind, []):
                for theme_id in classify(text, themes):
                    buckets.setdefault(theme_id, set()).add(fact["_id"])
                    mentions[theme_id] = mentions.get(theme_id, 0) + 1
        out[kind] = sorted(
            (
                {
                    "theme": tid,
                    "label": labels[tid],
                    "mentions": mentions[tid],
                    "submissions": len(ids),
                    "submission_ids": sorted(ids),
                }
                for tid, ids in buckets.items()
            ),
            key=lambda t: (-t["mentions"], t["label"]),
        )
    return out
