"""A new sign-in link as a card to print: the checker's phone camera reads its QR code.

Typing a long link is hard for many checkers and their supporters; pointing
the camera at a square is not. The card is made from the link when it is
issued and shown once with it (never stored), as an inline SVG by segno.
"""

from __future__ import annotations

import segno


def qr_svg(link: str, name: str) -> str:
    """The link's QR code as inline SVG, with a title saying what it is (the words beside it say how to use it)."""
    code = segno.make(link, error="m")
    svg = code.svg_inline(
        scale=5,
        border=2,
        dark="#0b0c0c",
        light="#ffffff",
        title=f"QR code of the sign-in link for {name}",
        svgclass="link-card__qr",
        lineclass=None,
        omitsize=False,
    )
    return svg.replace("<svg ", '<svg role="img" ', 1)  # its title is then its name for screen readers
