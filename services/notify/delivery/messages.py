"""The words of notify's e-mails: each a pair of templates (plain text and HTML) in plain words."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

_templates = Environment(
    loader=PackageLoader("services.notify.web", "templates"), autoescape=select_autoescape(["html"])
)
LABELS = {"critical": "Urgent", "high": "Important", "warning": "Please look", "info": "For information"}


def render(template: str, subject: str, **context) -> tuple[str, str, str]:
    """(subject, text, html) from a pair of templates; plain words, no free text from checkers."""
    return (
        subject,
        _templates.get_template(f"{template}.txt").render(context),
        _templates.get_template(f"{template}.html").render(context),
    )
