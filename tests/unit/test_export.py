"""The one CSV writer every manager table goes through: header, UTF-8, file name, formula guard."""

import csv
import io

import pytest
from flask import Flask

from qc import export


def _read(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8"))))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_a_spreadsheet_would_run_is_quoted(start):
    with Flask(__name__).app_context():
        response = export.csv_response([{"text": f"{start}SUM(A1)"}], "t.csv")
    assert _read(response)[1] == [f"'{start}SUM(A1)"]


@pytest.mark.parametrize("text", [" =SUM(A1)", "\n=cmd|' /C calc'!A0", "  \n+1"])
def test_a_formula_behind_spaces_or_a_line_break_is_quoted_too(text):
    with Flask(__name__).app_context():
        response = export.csv_response([{"text": text}], "t.csv")
    assert _read(response)[1] == [f"'{text}"]


def test_numbers_names_and_empty_cells_are_left_as_they_are():
    rows = [{"site": "Café Ørsted", "score_change": -0.5, "days": None, "checker": True}]
    with Flask(__name__).app_context():
        response = export.csv_response(rows, "t.csv", ["site", "score_change", "days", "checker"])
    assert response.content_type == "text/csv; charset=utf-8"
    assert _read(response) == [["site", "score_change", "days", "checker"], ["Café Ørsted", "-0.5", "", "yes"]]


def test_an_empty_table_still_has_its_header_row():
    with Flask(__name__).app_context():
        response = export.csv_response([], "t.csv", ["site_id", "name"])
    assert _read(response) == [["site_id", "name"]]


def test_the_file_name_names_scope_and_period_and_nothing_unsafe():
    assert export.filename_for("region", "R01", "coverage", "2026-11") == "region-R01-coverage-2026-11.csv"
    assert export.filename_for("site", 'S1"; rm -rf /', "2026-W05") == "site-S1_rm_-rf_-2026-W05.csv"
    with Flask(__name__).app_context():
        response = export.csv_response([], export.filename_for("org", "all", "regions", "2026-Q4"), ["a"])
    assert response.headers["Content-Disposition"] == 'attachment; filename="org-all-regions-2026-Q4.csv"'
