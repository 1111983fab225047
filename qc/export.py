"""CSV export of any table the managers see: one writer for every table, API and pages alike."""

from __future__ import annotations

import csv
import io
import re

from flask import Response

# A spreadsheet runs a cell starting with one of these as a formula (or DDE).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_response(rows: list[dict], filename: str, columns: list[str] | None = None) -> Response:
    """Rows as a UTF-8 CSV download with a header row; ``columns`` (default: the first row's keys) in order."""
    columns = columns or (list(rows[0]) if rows else [])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if columns:
        writer.writerow([_cell(c) for c in columns])
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return Response(
        buffer.getvalue().encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename_for(filename)}"'},
    )


def filename_for(*parts: str) -> str:
    """A safe file name from its parts (scope, id, table, period): letters, digits, dot, dash, underscore."""
    name = "-".join(p for p in parts if p)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-") or "table"
    return name if name.endswith(".csv") else f"{name}.csv"


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    # A spreadsheet must not run a cell as a formula, also when spaces or line breaks come before it.
    if isinstance(value, str) and (value.startswith(_FORMULA_START) or value.lstrip(" \n").startswith(_FORMULA_START)):
        return "'" + value
    return value
