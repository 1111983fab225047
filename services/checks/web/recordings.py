"""Read aloud without the phone's own voice: recordings of every question and answer of each question set.

Read aloud uses the browser's speech where it has a voice. Many cheap or old
phones have none, so every question, its hint and its answers are also
recorded once, when a question set is published (``make audio``, or
``python -m services.checks.web.recordings``), with espeak-ng (a Debian package),
and served as static files. A recording is named by a hash of its words and
the voice, so a changed wording is a new file and a published one never
changes; the page says which recording belongs to which words
(``data-audio``), and checks.js plays them in order where speech cannot.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from flask import abort, current_app, send_from_directory

from services.checks.stores.question_sets import QuestionSets, answer_options

VOICE = ("en-gb", "140")  # espeak-ng's British English, a little slower than its default
_NAME = re.compile(r"^[0-9a-f]{20}\.wav$")


def file_name(words: str) -> str:
    """The recording's file for these words in this voice."""
    key = "\n".join((*VOICE, " ".join(words.split())))
    return hashlib.sha256(key.encode()).hexdigest()[:20] + ".wav"


def phrases(question_set: dict) -> list[str]:
    """Every question, hint and answer of a question set, in the words the form shows."""
    out: list[str] = []
    for question in question_set["questions"]:
        out += [question["text"], *([question["hint"]] if question.get("hint") else [])]
        out += [option["label"] for option in answer_options(question, question_set["scale"])]
    return list(dict.fromkeys(out))


def build(question_sets: list[dict], out_dir: Path, espeak: str = "espeak-ng") -> dict[str, int]:
    """Record what is not recorded yet; how many were made and how many were there already."""
    out_dir.mkdir(parents=True, exist_ok=True)
    made = kept = 0
    for words in dict.fromkeys(w for s in question_sets for w in phrases(s)):
        target = out_dir / file_name(words)
        if target.exists():
            kept += 1
            continue
        # Written beside it and renamed: a page never links a half-written file.
        fd, partial = tempfile.mkstemp(dir=out_dir, suffix=".part")
        os.close(fd)
        try:
            subprocess.run([espeak, "-v", VOICE[0], "-s", VOICE[1], "-w", partial, words], check=True, timeout=60)
            os.replace(partial, target)
        finally:
            Path(partial).unlink(missing_ok=True)  # nothing half-made is left when espeak-ng fails
        made += 1
    return {"made": made, "kept": kept}


def url_for_words(audio_dir: Path, words: str | None) -> str | None:
    """The address of the recording of these words, or None when there is none (then only speech reads them)."""
    if not words:
        return None
    name = file_name(words)
    return f"/audio/{name}" if (Path(audio_dir) / name).exists() else None


def serve(name: str):
    """One recording, cached for long: its name changes whenever its words do."""
    if not _NAME.match(name):
        abort(404)
    audio_dir = current_app.extensions["qc.checks"].settings.audio_dir
    response = send_from_directory(audio_dir, name, mimetype="audio/wav", max_age=365 * 24 * 3600)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def main() -> int:
    """Record every published question set's words into QC_AUDIO_DIR."""
    from qc.settings import Settings

    settings = Settings.from_env()
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        print("espeak-ng is not installed (Debian package espeak-ng; `make audio` installs it)", file=sys.stderr)
        return 1
    sets = QuestionSets.load(settings.schemas_dir)
    counts = build(sets.all(), Path(settings.audio_dir), espeak)
    print(f"recordings in {settings.audio_dir}: {counts['made']} made, {counts['kept']} already there")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
