"""Strict JSON request bodies: one object, no tricks, or a problem document saying what is wrong.

Python's ``json`` accepts things that other parsers read differently or that
break later, far from the request: duplicate keys (which one wins?), NaN and
Infinity (not JSON), ``1e400`` (becomes infinity), integers of thousands of
digits (Python refuses past 4,300 digits; MongoDB past 64 bits), lone UTF-16
surrogates (cannot be encoded again) and deep nesting. We take the I-JSON
profile (RFC 7493) instead: integers within ±(2**53 - 1), finite numbers,
unique keys, valid Unicode.
"""

from __future__ import annotations

import json
import math

from flask import Response, request

from qc import web

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 32
_MAX_INTEGER_DIGITS = len(str(MAX_SAFE_INTEGER))


class JSONBodyError(ValueError):
    """A body that is not one strict JSON object; ``title`` and ``str(e)`` say why in plain words."""

    def __init__(self, title: str, detail: str):
        super().__init__(detail)
        self.title = title


def loads(raw: bytes | str):
    """Parse ``raw`` strictly (see the module docstring); JSONBodyError if it is not acceptable."""
    try:
        # UTF-8 only (RFC 8259 section 8.1): json.loads would also guess UTF-16 and UTF-32.
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_int=_integer,
            parse_float=_finite,
            parse_constant=_no_constant,
        )
    except JSONBodyError:
        raise
    except RecursionError as e:
        raise JSONBodyError("Not valid JSON", f"The JSON is nested more than {MAX_DEPTH} levels deep.") from e
    except (ValueError, TypeError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise JSONBodyError("Not valid JSON", f"The body could not be read as JSON: {_short(e)}") from e
    _check_structure(value)
    return value


def loads_object(raw: bytes | str) -> dict:
    """Like ``loads``, but the body must be a JSON object."""
    value = loads(raw)
    if not isinstance(value, dict):
        raise JSONBodyError("Not a JSON object", 'The body must be a JSON object, like {"field": "value"}.')
    return value


def request_object() -> tuple[dict | None, Response | None]:
    """The request's JSON object, or (None, a 415/400 problem document)."""
    if not request.is_json:
        return None, web.problem(415, "Send JSON", "Set 'Content-Type: application/json' and send a JSON object.")
    try:
        return loads_object(request.get_data()), None
    except JSONBodyError as e:
        return None, web.problem(400, e.title, str(e))


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        raise JSONBodyError("Not valid JSON", f"The body has duplicate keys {[_short(d) for d in duplicates]}.")
    return dict(pairs)


def _integer(text: str) -> int:
    # Checked on the digits first: int() itself refuses (slowly) past 4,300 of them.
    if len(text.lstrip("-")) > _MAX_INTEGER_DIGITS or abs(int(text)) > MAX_SAFE_INTEGER:
        raise JSONBodyError(
            "Number too large", f"Whole numbers must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}."
        )
    return int(text)


def _finite(text: str) -> float:
    if len(text) > 64:
        raise JSONBodyError("Number too large", "A number in the body has too many digits.")
    value = float(text)
    if not math.isfinite(value):
        raise JSONBodyError("Number too large", "A number in the body is too large to be read.")
    return value


def _no_constant(name: str):
    raise JSONBodyError("Not valid JSON", f"{name} is not allowed in JSON; send a number or null.")


def _check_structure(value) -> None:
    """Depth and strings (keys too) that can be written out again as UTF-8, without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _valid_text(item)
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise JSONBodyError("Not valid JSON", f"The JSON is nested more than {MAX_DEPTH} levels deep.")
            if isinstance(item, dict):
                for key, child in item.items():
                    _valid_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _valid_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise JSONBodyError("Not valid JSON", "A text in the body has an unpaired \\u surrogate escape.") from e


def _short(value, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"
