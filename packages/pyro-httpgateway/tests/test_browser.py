"""The gateway's page in a real browser: Playwright driving Debian's headless Chromium.

Playwright cannot download its own browser here, so it must use /usr/bin/chromium
(``apt-get install chromium``; ``.ci/run`` installs it). Without it these tests fail
and say so: they never skip. One browser is started for the whole module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Milliseconds Playwright waits for an element or a text.
WAIT_MS = 10_000


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium (a fresh profile) for the module's tests."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"the browser tests need Debian's Chromium at {CHROMIUM}: install it with "
            "'apt-get install -y chromium' (Playwright cannot download its own browser here)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright: pip install playwright (the hatch-test env has it)")
    profile: Path = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context.set_default_timeout(WAIT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture()
def page(browser: Any, gateway: Any) -> Iterator[Any]:
    """The gateway's page, loaded; every URL the browser asks for is recorded in ``page.asked``."""
    tab = browser.new_page()
    asked: list[str] = []
    problems: list[str] = []
    tab.on("request", lambda request: asked.append(request.url))
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.goto(gateway.url + "/")  # redirected to /pyro/
    tab.asked, tab.problems, tab.base = asked, problems, gateway.url
    try:
        yield tab
    finally:
        tab.close()


def response_text(page: Any, words: str) -> str:
    """Wait until the response box holds ``words``; its text."""
    page.wait_for_function("words => document.getElementById('pyro_response').textContent.includes(words)", arg=words)
    return str(page.text_content("#pyro_response"))


def test_page_lists_the_exposed_objects_and_their_methods(page):
    assert page.url == page.base + "/pyro/"
    assert page.title() == "Pyro HTTP gateway"
    names = page.locator("#objects tbody tr a.object").all_text_contents()
    assert names == ["http.dead", "http.echo", "http.other"]  # test.hidden is not exposed
    row = page.locator('#objects tr[data-object="http.echo"]')
    methods = row.locator("a.method").all_text_contents()
    assert {"add", "echo", "fail", "slow"} <= set(methods)
    assert row.locator("a.oneway").all_text_contents() == ["log"]
    assert row.locator("a.attribute").all_text_contents() == ["value"]
    assert "cannot get its metadata" in page.locator('#objects tr[data-object="http.dead"]').inner_text()


def test_calling_a_method_through_the_form_shows_the_result(page):
    page.locator('#objects tr[data-object="http.echo"] a.method[data-member="echo"]').click()
    assert page.input_value("#call-object") == "http.echo"
    assert page.input_value("#call-method") == "echo"
    page.fill("#call-args", "message=hello from the browser")
    page.click("#call-button")
    assert response_text(page, "hello from the browser") == '"hello from the browser"'
    assert page.text_content("#pyro_status").startswith("200 OK")
    assert "X-Pyro-Correlation-Id: " in page.text_content("#pyro_status")
    assert "/pyro/http.echo/echo?message=hello+from+the+browser" in page.text_content("#fetch-code")


def test_the_form_posts_json_and_shows_errors(page):
    page.fill("#call-object", "http.echo")
    page.fill("#call-method", "add")
    page.select_option("#call-as", "json")
    page.fill("#call-args", '{"a": 40, "b": 2}')
    page.click("#call-button")
    assert response_text(page, "42") == "42"
    page.fill("#call-method", "fail")
    page.fill("#call-args", '{"message": "shown to the person"}')
    page.click("#call-button")
    assert "builtins.ValueError" in response_text(page, "shown to the person")
    assert page.text_content("#pyro_status").startswith("500")


def test_the_object_name_link_shows_its_metadata(page):
    page.locator("#objects a.object", has_text="http.other").click()
    shown = response_text(page, '"methods"')
    assert '"echo"' in shown and '"attributes"' in shown


def test_a_page_script_fetch_gets_the_json(page):
    result = page.evaluate(
        """async () => {
            const reply = await fetch("/pyro/http.echo/add", {
                method: "POST",
                headers: {"Content-Type": "application/json"},
                body: JSON.stringify({a: 2, b: 3}),
            });
            const plain = await fetch("/pyro/http.echo/echo?message=" + encodeURIComponent("fetched ✓"));
            return {
                status: reply.status,
                type: reply.headers.get("Content-Type"),
                correlation: reply.headers.get("X-Pyro-Correlation-Id"),
                result: await reply.json(),
                plain: await plain.json(),
            };
        }"""
    )
    assert result["status"] == 200
    assert result["type"] == "application/json; charset=utf-8"
    assert len(result["correlation"]) == 36
    assert result["result"] == 5
    assert result["plain"] == "fetched ✓"


def test_pyro4_page_function_and_nothing_from_elsewhere(page):
    page.evaluate("pyro_call('http.echo', 'echo', {message: 'old style'})")
    assert response_text(page, "old style") == '"old style"'
    assert page.problems == []
    assert page.asked and all(url.startswith(page.base + "/") for url in page.asked), page.asked


def test_a_keyed_gateway_page_sends_the_key_from_its_url(browser, serve_gateway):
    served = serve_gateway(gateway_key="page-key")
    tab = browser.new_page()
    try:
        assert tab.goto(served.url + "/pyro/").status == 401
        tab.goto(served.url + "/pyro/?$key=page-key")
        assert tab.input_value("#call-key") == "page-key"
        tab.locator('#objects tr[data-object="http.echo"] a.attribute[data-member="value"]').click()
        assert response_text(tab, "42") == "42"  # the script sent the key as X-Pyro-Gateway-Key
        assert tab.text_content("#pyro_status").startswith("200 OK")
    finally:
        tab.close()
