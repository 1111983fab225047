"""docs/usability-script.md, walked at 320 CSS pixels wide (a small phone, or 400 % zoom of a 1280 px screen).

WCAG 1.4.10 (reflow): nothing may need scrolling sideways at that width, and every control stays at
least 44 x 44 pixels. With JavaScript (the one-page check) and without (a page per screen).
"""

from __future__ import annotations

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By

from tests.conftest import wait_for
from tests.e2e.conftest import SCREENS, small_targets

pytestmark = pytest.mark.e2e
NARROW = (320, 640)


def _sideways(driver) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")


def _look(driver, name: str) -> None:
    """The screen fits the width, its controls are big enough; its screenshot is kept."""
    assert _sideways(driver) <= 0, f"{name}: {_sideways(driver)} px wider than 320 ({driver.current_url})"
    small = small_targets(driver)
    assert small == [], f"{name}: controls under 44 x 44 px at 320 px wide: {small}"
    SCREENS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENS / f"320-{name}.png"))


def _press(driver, selector: str) -> None:
    """Press a button that loads a new page, and wait until the new page is there (the old one gone)."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, selector).click()

    def replaced() -> bool:
        try:
            old.tag_name  # noqa: B018 (raises once the old page is gone)
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:  # Chromium may say so in other words while the new page comes in
            return "does not belong to the document" in str(e)
        return False

    wait_for(replaced, 10, f"the page after {selector}")


@pytest.mark.parametrize("javascript", [False, True], ids=["without-javascript", "with-javascript"])
def test_the_script_at_320_pixels_wide(form_services, browser_factory, javascript):
    driver = browser_factory(javascript=javascript)
    driver.set_window_size(*NARROW)
    checker = next(c for c in form_services["creds"]["checkers"] if c["site_id"] == "S0011")
    url = form_services["url"]
    kind = "js" if javascript else "nojs"
    # 1. Sign in, and 2. the start page.
    driver.get(f"{url}/s/{checker['token']}")
    wait_for(lambda: driver.current_url.rstrip("/") == url, 10, "the start page")
    _look(driver, f"{kind}-start")
    # 11. How I like it, and the question before a link is stopped.
    for path, name in (
        ("/how-i-like-it", "how-i-like-it"),
        ("/stop-my-link", "stop-my-link"),
        ("/my-checks", "my-checks"),
    ):
        driver.get(url + path)
        _look(driver, f"{kind}-{name}")
    # 9. The worried screen.
    driver.get(f"{url}/worried")
    wait_for(lambda: "worried" in driver.current_url, 10, "the worried screen")
    _look(driver, f"{kind}-worried")
    if javascript:
        # 3-7 on the one-page check: every step shown in turn at this width.
        driver.get(f"{url}/check/app#who")
        steps = driver.execute_script(
            "return Array.from(document.querySelectorAll('[data-step]')).map(s => s.getAttribute('data-step'))"
        )
        assert "who" in steps and "when" in steps and "check" in steps
        for step in steps:
            driver.execute_script(
                "document.querySelectorAll('[data-step]')"
                ".forEach(s => { s.hidden = s.getAttribute('data-step') !== arguments[0]; });",
                step,
            )
            _look(driver, f"js-step-{step}")
        return
    # 3-7 without JavaScript: a page per screen, each error shown once.
    driver.get(url)
    _press(driver, "[data-start-check] button")
    _look(driver, "nojs-who")
    driver.find_element(By.CSS_SELECTOR, "#answered-by").click()  # "Just me"
    _press(driver, "main form button[type=submit]")
    driver.find_element(By.CSS_SELECTOR, "#visited-other").click()
    _press(driver, "main form button[type=submit]")  # no day written: the error, with the boxes
    assert "There is a problem" in driver.page_source
    _look(driver, "nojs-when-error")
    driver.find_element(By.CSS_SELECTOR, "#visited").click()
    _press(driver, "main form button[type=submit]")
    _press(driver, "main form button[type=submit]")  # no answer chosen: the error
    assert "There is a problem" in driver.page_source
    _look(driver, "nojs-question-error")
    driver.find_element(By.CSS_SELECTOR, "[data-comment-details] summary").click()  # "Tell us more"
    _look(driver, "nojs-question-tell-us-more")
    _press(driver, "[data-name-reminder] a")  # who can see the name: its own screen
    assert "Who can see your name?" in driver.page_source
    _look(driver, "nojs-your-name")
    # 9. A worry sent now goes on its own; the check waits to be carried on.
    _press(driver, "[data-worried-link]")
    driver.find_element(By.CSS_SELECTOR, "#concern").send_keys("The lift has been broken for a week")
    _press(driver, "button[value=send]")
    assert "Your worry has been sent" in driver.page_source and "Only your worry was sent" in driver.page_source
    _look(driver, "nojs-worry-sent")
    _press(driver, "[data-carry-on]")
    assert "/check/" in driver.current_url and "worr" not in driver.current_url
