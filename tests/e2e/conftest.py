"""Fixtures for the browser tests: the services as processes, headless Chromium, axe-core."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from werkzeug.serving import make_server

from qc import auth, mongo, web
from qc.settings import ROOT
from qc_tools.devstack import SERVICES, free_port
from tests.conftest import wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = ROOT / "var" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = ROOT / "var" / "screens"
PHONE = (360, 740)  # CSS pixels of a small, older phone


@contextlib.contextmanager
def over_http(app, port: int | None = None):
    """Serve a Flask app over real HTTP on ``port`` (a free one if None), on a thread of its own; yields its URL."""
    port = port or free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)


@contextlib.contextmanager
def own_database(stack, **overrides):
    """The stack's settings naming a database of the caller's own, and a connection to it; dropped after."""
    settings = stack.settings.replace(mongo_db=f"t_{uuid.uuid4().hex[:12]}", **overrides)
    db = mongo.connect(settings, "qc-tests")
    try:
        yield settings, db
    finally:
        db.client.drop_database(settings.mongo_db)
        db.client.close()


@contextlib.contextmanager
def app_over_http(create_app, settings, port: int | None = None):
    """A service's web app made from ``settings`` and served over real HTTP; yields the app and its URL."""
    app = create_app(dataclasses.asdict(settings))
    try:
        with over_http(app, port) as url:
            yield app, url
    finally:
        app.extensions["qc.close"]()


def sign_in_by_cookie(driver, url: str, secret_key: str, principal: auth.Principal) -> None:
    """Give a browser a manager's session cookie for ``url`` (a page under test, without the sign-in page)."""
    driver.get(f"{url}/healthz")
    driver.add_cookie(
        {"name": web.MANAGER_COOKIE, "value": auth.issue_manager_token(secret_key, principal), "path": "/"}
    )


@pytest.fixture(scope="module")
def form_services(stack):
    """Demo directory and all services, started here unless another module's are running; stopped if ours."""
    credentials = stack.var_dir / "form-credentials.json"
    stack.run_cli("demo-seed", "--sites", "24", "--credentials", str(credentials))
    names = [f"{s}-{kind}" for s in SERVICES for kind in ("web", "worker")]
    started = "checks-web" not in stack.procs
    if started:
        stack.start_services()
    stack.wait_ready(timeout=90)
    yield {"url": stack.urls()["checks"], "creds": json.loads(credentials.read_text()), "settings": stack.settings}
    if started:
        # Only the processes this fixture started, by their id: the session's stack keeps its broker and database.
        for name in names:
            proc = stack.procs.pop(name, None)
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(25)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            (stack.var_dir / "run" / f"{name}.pid").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def browser_factory():
    """Make headless Chromium drivers at phone size (JavaScript on or off); all quit at the end."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists() and AXE.exists()):
        pytest.fail("headless Chromium or axe-core is missing: `make test` installs them (target `browser`)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers, profiles = [], []

    def make(javascript: bool = True):
        profile = tempfile.mkdtemp(prefix="qc-chromium-")
        profiles.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            f"--window-size={PHONE[0]},{PHONE[1]}",
        ):
            options.add_argument(arg)
        if not javascript:
            options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
        driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        # The window includes no browser chrome in headless mode, so the page gets the phone's width.
        driver.set_window_size(*PHONE)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        with contextlib.suppress(Exception):
            driver.quit()
    for profile in profiles:
        shutil.rmtree(profile, ignore_errors=True)


def run_axe(driver) -> list[dict]:
    """axe-core's WCAG 2.2 A/AA violations on the current page."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text())
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
          .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}))))
          .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), nodes: []}]));
        """
    )
    return result


def assert_accessible(driver, screen: str) -> None:
    """No axe-core violations, every control at least 44 x 44 CSS px; keeps a phone-size screenshot."""
    violations = run_axe(driver)
    assert violations == [], f"axe-core on {screen!r} ({driver.current_url}):\n" + json.dumps(violations, indent=1)
    small = small_targets(driver)
    assert small == [], f"touch targets under 44 x 44 CSS px on {screen!r}: {small}"
    SCREENS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENS / f"{screen}.png"))


def small_targets(driver) -> list[str]:
    """Visible buttons, inputs, textareas and links (but not links inside a sentence) under 44 x 44 px."""
    return driver.execute_script(
        """
        const out = [];
        for (const el of document.querySelectorAll("a[href], button, input, textarea, select")) {
          if (el.type === "hidden") continue;
          const r = el.getBoundingClientRect();
          if (r.width === 0 && r.height === 0) continue;           // not shown
          // A link inside a sentence is the WCAG exception; every other control must be big enough.
          if (el.tagName === "A" && el.closest("p") && !el.matches(".button, .link-block")) continue;
          const size = `${Math.round(r.width)}x${Math.round(r.height)}`;
          if (r.width < 44 || r.height < 44) out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className} ${size}`);
        }
        return out;
        """
    )


@pytest.fixture(scope="module")
def report(request):
    """Write a line to pytest's terminal past output capturing, so figures show without -s (crash, outage)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        if reporter is None or capture is None:
            print(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)

    return write


def sign_in_manager(driver, checks_url: str, manager: dict) -> None:
    """Sign a manager in through the real sign-in page; they land on their home, "Needs you today"."""
    driver.get(f"{checks_url}/manager/sign-in")
    driver.find_element(By.ID, "username").send_keys(manager["username"])
    driver.find_element(By.ID, "password").send_keys(manager["password"])
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: driver.current_url.endswith("/manager/today"), 10, "the manager's home after signing in")
