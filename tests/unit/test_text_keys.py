"""A text's key: the same words give the same key whatever their case, spacing or punctuation; nothing else does."""

from __future__ import annotations

from qc import text_keys


def test_the_same_words_give_the_same_key_and_other_words_or_secrets_do_not():
    key = text_keys.text_key("The lift is broken!", "secret-one")
    assert key == text_keys.text_key("  the LIFT is   broken ", "secret-one")
    assert key != text_keys.text_key("The lift is mended", "secret-one")
    assert key != text_keys.text_key("The lift is broken!", "secret-two")  # a key cannot be tried without the secret
    assert text_keys.is_key(key) and len(key) == text_keys.LENGTH


def test_only_a_key_shaped_text_is_a_key():
    assert not text_keys.is_key("the lift")
    assert not text_keys.is_key("0" * (text_keys.LENGTH + 1))
    assert not text_keys.is_key("A" * text_keys.LENGTH)  # keys are lower-case hex
