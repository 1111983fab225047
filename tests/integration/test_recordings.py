"""Read aloud without a voice on the phone: every question and answer recorded with espeak-ng, linked from the
page by its words, and served as a static file."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import subprocess
import wave

import pytest

from qc import auth
from qc.settings import ROOT
from services.checks.bootstrap import create_app as create_checks_app
from services.checks.stores.directory import Directory
from services.checks.stores.question_sets import QuestionSets, answer_options
from services.checks.web import recordings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing: `make test` installs it (target `audio`)")
    sets = QuestionSets.load(ROOT / "schemas")
    out = tmp_path_factory.mktemp("audio")
    return sets, out, recordings.build(sets.all(), out)


def test_every_question_hint_and_answer_of_every_published_set_is_recorded(recorded):
    sets, out, counts = recorded
    for question_set in sets.all():
        for question in question_set["questions"]:
            words = [question["text"], question.get("hint")]
            words += [o["label"] for o in answer_options(question, question_set["scale"])]
            for said in filter(None, words):
                path = out / recordings.file_name(said)
                with wave.open(str(path)) as sound:  # a real recording: a WAV file of some length
                    seconds = sound.getnframes() / sound.getframerate()
                assert 0.3 < seconds < 20, (said, seconds)
    assert counts["made"] == len(list(out.glob("*.wav"))) and counts["kept"] == 0
    assert not list(out.glob("*.part")), "no half-written file is left"
    again = recordings.build(sets.all(), out)
    assert again == {"made": 0, "kept": counts["made"]}, "a published set is recorded once"


def test_the_form_links_each_question_and_answer_to_its_recording(recorded, settings):
    _, out, _ = recorded
    app = create_checks_app({**dataclasses.asdict(settings), "audio_dir": out})
    try:
        directory = Directory(app.extensions["qc.checks"].db)
        directory.upsert("region", {"_id": "R01", "name": "Region 1", "active": True})
        directory.upsert("site", {"_id": "S0001", "name": "Oak House", "region_id": "R01", "active": True})
        directory.upsert("person", {"_id": "C1", "name": "C", "role": "checker", "site_id": "S0001", "active": True})
        token = auth.new_checker_token()
        directory.add_checker_token("C1", "S0001", auth.hash_checker_token(token))
        with app.test_client() as client:
            client.get(f"/s/{token}")
            page = client.get("/check/app").get_data(as_text=True)
            linked = re.findall(r'data-speak data-audio="(/audio/[0-9a-f]{20}\.wav)"[^>]*>([^<]+)<', page)
            linked = [(url, html.unescape(words).strip()) for url, words in linked]
            said = {words for _, words in linked}
            assert {"Do you feel safe where you live?", "Good", "Not good", "Maybe"} <= said
            assert "Think about the people, the building and at night." in said, "hints too"
            for url, words in linked:
                assert url == f"/audio/{recordings.file_name(words)}"
            with client.get(linked[0][0]) as served:
                assert served.status_code == 200 and served.mimetype == "audio/wav"
                assert "immutable" in served.headers["Cache-Control"] and served.data[:4] == b"RIFF"
            assert client.get("/audio/..%2Fsecret-key").status_code == 404
            assert client.get("/audio/0123456789abcdef0123.wav").status_code == 404
    finally:
        app.extensions["qc.close"]()


def test_without_recordings_the_page_links_none(settings, tmp_path):
    app = create_checks_app({**dataclasses.asdict(settings), "audio_dir": tmp_path})
    try:
        with app.test_request_context():
            assert recordings.url_for_words(tmp_path, "Do you feel safe where you live?") is None
    finally:
        app.extensions["qc.close"]()


def test_a_failed_recording_leaves_nothing_half_made(tmp_path):
    failing = tmp_path / "espeak-ng"
    failing.write_text("#!/bin/sh\necho 'no voice' >&2\nexit 1\n")
    failing.chmod(0o755)
    question_set = QuestionSets.load(ROOT / "schemas").current()
    with pytest.raises(subprocess.CalledProcessError):
        recordings.build([question_set], tmp_path / "audio", str(failing))
    assert list((tmp_path / "audio").iterdir()) == [], "no recording and no .part file"
