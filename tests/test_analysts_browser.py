"""The report in a real headless browser (Debian's chromium, installed here when absent), with
networking disabled: it renders, no console error, no request but the file itself; a screenshot
is kept for a human look; and the PDF of the same report is produced."""

from __future__ import annotations

from pathlib import Path

import pytest
from analysts_support import ensure_chromium, offline_wrapper

from dagster_project.reporting import generate
from dagster_project.reporting.chromium import PageCheck

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def chromium() -> str:
    return ensure_chromium()


@pytest.fixture(scope="module")
def page(run_2017, chromium):
    report = run_2017.warehouse_dir / "rapport" / "bilan_2017.html"
    with PageCheck(chromium, wrapper=offline_wrapper()) as browser:
        result = browser.open(report.resolve().as_uri())
    shot = run_2017.warehouse_dir / "rapport" / "capture_bilan_2017.png"
    shot.write_bytes(result.screenshot)
    print(f"\ncapture d'écran du rapport : {shot}")
    return result


def test_report_renders_offline_without_console_error_or_request(page, run_2017):
    assert page.title.startswith("Bilan de l’Insertion 2017-2018")
    assert not page.console_errors, page.console_errors
    assert not page.exceptions, page.exceptions
    assert not page.failed_requests, page.failed_requests
    # the only request is the page itself, from disk
    assert page.requests == [page.url], page.requests
    assert "12\u202f782" in page.text and "TOTAUX" in page.text


def test_screenshot_is_a_full_page_png(page):
    assert page.screenshot.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = page.size
    assert width <= 1200, f"the page overflows horizontally ({width}px)"
    assert height > 3000  # every section, not a blank or cut page
    assert len(page.screenshot) > 100_000


def test_pdf_of_the_same_report(run_2017, chromium, tmp_path, monkeypatch):
    monkeypatch.setenv("BILAN_CHROMIUM", chromium)
    out = generate(run_2017.marts, tmp_path, run_2017.warehouse, pdf=True)
    pdf = out.pdf[2017]
    data = Path(pdf).read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 50_000
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 5
