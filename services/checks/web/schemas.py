"""The intake API's request bodies, validated with marshmallow."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from qc import events, sharing

SCORES = (1, 2, 3)  # 1 not good, 2 OK, 3 good; null = skipped


class AnswerSchema(Schema):
    question_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    score = fields.Integer(
        required=True,
        allow_none=True,
        strict=True,
        validate=validate.OneOf(SCORES, error="Must be 1 (not good), 2 (OK), 3 (good) or null (skipped)."),
    )
    comment = fields.String(load_default="", validate=validate.Length(max=1000))
    share = fields.String(load_default=sharing.DEFAULT_SHARE, validate=validate.OneOf(sharing.SHARE))


class QuestionSetRefSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


_short_texts = dict(
    load_default=list,
    validate=validate.Length(max=20, error="At most 20 items."),
)


class SubmissionSchema(Schema):
    submission_id = fields.UUID(required=True)
    site_id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    question_set = fields.Nested(QuestionSetRefSchema, required=True)
    visited_on = fields.Date(required=True)
    answers = fields.List(
        fields.Nested(AnswerSchema),
        required=True,
        validate=validate.Length(max=100, error="Give between 1 and 100 answers."),
    )
    working = fields.List(fields.String(validate=validate.Length(min=1, max=500)), **_short_texts)
    not_working = fields.List(fields.String(validate=validate.Length(min=1, max=500)), **_short_texts)
    urgent_concern = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    # Who answered and what they agreed to share: optional, the safe defaults when missing (qc/sharing.py).
    answered_by = fields.String(load_default=sharing.DEFAULT_ANSWERED_BY, validate=validate.OneOf(sharing.ANSWERED_BY))
    texts_share = fields.String(load_default=sharing.DEFAULT_SHARE, validate=validate.OneOf(sharing.SHARE))
    urgent_concern_share = fields.String(load_default=sharing.DEFAULT_SHARE, validate=validate.OneOf(sharing.SHARE))
    # A check (the default) or a worry sent on its own, which has the worry and nothing else (qc/events.py).
    kind = fields.String(load_default=events.CHECK, validate=validate.OneOf(events.SUBMISSION_KINDS))

    @validates_schema
    def _what_each_kind_holds(self, data, **kwargs):
        if data.get("kind") != events.WORRY_ALONE:
            if "answers" in data and not data["answers"]:
                raise ValidationError("Give between 1 and 100 answers.", "answers")
            return
        errors = {}
        if not (data.get("urgent_concern") or "").strip():
            errors["urgent_concern"] = ["A worry sent on its own needs the worry: write what you are worried about."]
        for field in ("answers", "working", "not_working"):
            if data.get(field):
                errors[field] = ["A worry sent on its own has no answers or texts: send them with the check."]
        if errors:
            raise ValidationError(errors)

    @validates_schema
    def _one_answer_per_question(self, data, **kwargs):
        seen = set()
        for answer in data.get("answers", []):
            if answer["question_id"] in seen:
                raise ValidationError(f"Question {answer['question_id']!r} is answered more than once.", "answers")
            seen.add(answer["question_id"])


class TokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


def flatten_errors(messages, prefix: str = "") -> list[dict]:
    """marshmallow's nested error dict as a list of ``{field, message}``."""
    out = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            out.extend(flatten_errors(value, name))
    elif isinstance(messages, list):
        for value in messages:
            out.extend(flatten_errors(value, prefix))
    else:
        out.append({"field": prefix or None, "message": str(messages)})
    return out
