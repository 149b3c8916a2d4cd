"""The storefront widget in a real headless Chromium (Debian's, driven by Playwright): a shopper tracks an
order, the conversation survives a reload, bot text is never markup, and the keyboard alone suffices."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from channels.app import create_app
from channels.widget import QUICK_PROMPTS
from lumen_bot.domain.speech import Speech
from tests.conftest import VOICES, LiveServer, needs_chromium

JANE = "jane.doe@example.com"
HOSTILE_SHOP = '<img src=x onerror="window.pwned=1">Acme javascript:alert(1)'

pytestmark = needs_chromium


@pytest.fixture(params=["sqlite"])
def database_url(tmp_path) -> str:
    # The browser tests exercise the widget, not the database: SQLite alone keeps them quick.
    return f"sqlite:///{tmp_path / 'lumen-widget.db'}"


@pytest.fixture
def shop(settings, orders, clock) -> Iterator[str]:
    with LiveServer(create_app(settings, engine=orders, clock=clock)) as client:
        yield str(client.base_url).rstrip("/")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    yield context.new_page()
    context.close()


def serve(html: str) -> Callable[[Route], None]:
    """A route handler that answers with ``html``: a storefront page of the test's making."""

    def fulfill(route: Route) -> None:
        route.fulfill(body=html, content_type="text/html")

    return fulfill


def open_chat(page: Page) -> None:
    page.get_by_role("button", name=re.compile("chat", re.IGNORECASE)).click()
    expect(page.get_by_label("Message")).to_be_focused()


def send(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def conversation(page: Page, say: Speech = VOICES["en"]) -> Locator:
    return page.get_by_role("log", name=say("Conversation"))


def test_a_shopper_tracks_a_demo_order_through_the_widget(page, shop):
    page.goto(shop)
    open_chat(page)
    expect(page.get_by_role("dialog", name="Chat with Acme Outfitters")).to_be_visible()
    expect(conversation(page)).to_contain_text("I can tell you where your order is")

    page.get_by_role("button", name="Where's my order?").click()
    expect(conversation(page)).to_contain_text("What's your order number?")
    send(page, "1042")
    expect(conversation(page)).to_contain_text("what's the email address you used for order #1042?")
    send(page, JANE)

    expect(conversation(page)).to_contain_text("Order #1042 has shipped.")
    link = page.get_by_role("link", name=re.compile(r"ups\.com"))
    expect(link).to_have_attribute("href", "https://www.ups.com/track?tracknum=1Z999AA10123456784")
    expect(link).to_have_attribute("rel", "noopener noreferrer")


def test_quick_replies_from_the_api_show_as_buttons_and_send(page, shop):
    page.goto(shop)
    open_chat(page)
    send(page, f"where is order 1042? {JANE}")
    expect(conversation(page)).to_contain_text("has shipped")

    page.get_by_role("button", name="When will it arrive?").click()

    expect(conversation(page)).to_contain_text("Tuesday, December 1")


def test_a_typing_indicator_shows_while_the_bot_answers(page, shop):
    held: list[Route] = []
    page.route("**/api/chat", lambda route: held.append(route))  # waits until the test lets it through
    page.goto(shop)
    open_chat(page)

    send(page, "hi")

    indicator = page.get_by_text("Acme Outfitters is typing…")
    expect(indicator).to_be_visible()
    held[0].continue_()
    expect(indicator).to_be_hidden()
    expect(conversation(page)).to_contain_text("I'm the order assistant")


def test_the_conversation_is_kept_across_a_reload(page, shop):
    page.goto(shop)
    open_chat(page)
    send(page, "where is order 1042?")
    expect(conversation(page)).to_contain_text("what's the email address")

    page.reload()

    expect(conversation(page)).to_contain_text("where is order 1042?")
    send(page, JANE)  # the same session: no need to give the number again
    expect(conversation(page)).to_contain_text("Order #1042 has shipped.")


def test_html_in_bot_text_is_shown_as_text_and_only_http_links_are_links(browser, settings, orders, clock):
    hostile = settings.model_copy(update={"shop_name": HOSTILE_SHOP})
    context = browser.new_context()
    page = context.new_page()
    with LiveServer(create_app(hostile, engine=orders, clock=clock)) as client:
        page.goto(str(client.base_url))
        open_chat(page)
        send(page, "hello")
        expect(conversation(page)).to_contain_text(f"I'm the order assistant for {HOSTILE_SHOP}")

        assert page.evaluate("window.pwned") is None
        assert page.locator("#lumen-chat img").count() == 0
        assert page.get_by_role("link").count() == 0  # javascript:alert(1) stayed text
    context.close()


def test_the_shoppers_own_markup_is_shown_as_typed(page, shop):
    page.goto(shop)
    open_chat(page)

    send(page, "<b>where</b> is my order?")

    expect(conversation(page)).to_contain_text("<b>where</b> is my order?")
    assert page.locator("#lumen-chat b").count() == 0


def test_the_widget_works_with_the_keyboard_alone(page, shop):
    page.goto(shop)

    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Open chat")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Message")).to_be_focused()
    page.keyboard.type(f"where is order 1042? {JANE}")
    page.keyboard.press("Enter")
    expect(conversation(page)).to_contain_text("Order #1042 has shipped.")

    page.keyboard.press("Escape")

    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_role("button", name="Open chat")).to_be_focused()


def test_an_error_is_shown_in_the_panel_in_the_widgets_words_with_a_retry(page, shop):
    failures = {"left": 1}

    def flaky(route: Route) -> None:
        if failures["left"]:
            failures["left"] -= 1
            route.fulfill(status=503, json={"detail": "something went wrong on our side; please try again"})
        else:
            route.continue_()

    page.route("**/api/chat", flaky)
    page.goto(shop)
    open_chat(page)

    page.get_by_role("button", name="Where's my order?").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The chat is not answering right now.")
    alert.get_by_role("button", name="Retry").click()
    expect(conversation(page)).to_contain_text("What's your order number?")
    expect(alert).to_be_hidden()


def test_a_rate_limited_shopper_is_told_to_wait(browser, settings, orders, clock):
    limited = settings.model_copy(update={"chat_rate_limit": "1/minute"})
    context = browser.new_context()
    page = context.new_page()
    with LiveServer(create_app(limited, engine=orders, clock=clock)) as client:
        page.goto(str(client.base_url))
        open_chat(page)
        send(page, "hi")
        expect(conversation(page)).to_contain_text("I'm the order assistant")
        send(page, "where is my order?")

        expect(page.get_by_role("alert")).to_contain_text("Too many messages in a short time")
    context.close()


def test_the_panel_fits_a_phone_screen(browser, shop):
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(shop)

    open_chat(page)

    box = page.get_by_role("dialog").bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 667
    expect(page.get_by_label("Message")).to_be_in_viewport()
    context.close()


def test_the_host_pages_css_does_not_reach_the_widget(page, shop):
    page.goto(shop)  # the demo page styles every button hot pink, !important

    launcher = page.get_by_role("button", name="Open chat")

    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(31, 95, 191)"


def test_colour_position_and_welcome_come_from_the_script_tag(page, shop):
    themed = (
        '<!doctype html><html><body><h1>Themed shop</h1><script src="/widget.js" defer'
        ' data-color="#008000" data-position="left" data-welcome="Howdy! Ask me about your parcel."></script>'
        "</body></html>"
    )
    page.route(f"{shop}/themed", serve(themed))
    page.goto(f"{shop}/themed")

    launcher = page.get_by_role("button", name="Open chat")
    box = launcher.bounding_box()
    assert box is not None and box["x"] < 100
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 128, 0)"
    open_chat(page)
    expect(conversation(page)).to_contain_text("Howdy! Ask me about your parcel.")


def test_a_storefront_on_another_origin_may_chat_only_when_allowed(browser, settings, orders, clock):
    allowed = settings.model_copy(update={"widget_origins": ["http://localhost:1"]})
    with LiveServer(create_app(allowed, engine=orders, clock=clock)) as client:
        lumen = str(client.base_url).rstrip("/")
        for origin, answered in (("http://localhost:1", True), ("http://localhost:2", False)):
            context = browser.new_context()
            page = context.new_page()
            page.route(f"{origin}/", serve(f'<!doctype html><script src="{lumen}/widget.js" defer></script>'))
            page.goto(f"{origin}/")
            open_chat(page)
            send(page, "hi")
            if answered:
                expect(conversation(page)).to_contain_text("I'm the order assistant")
            else:
                expect(page.get_by_role("alert")).to_contain_text("Can't reach the chat right now")
            context.close()


def test_a_german_browser_gets_the_german_widget_and_answers(browser, shop):
    german = VOICES["de"]
    context = browser.new_context(locale="de-DE")
    page = context.new_page()
    page.goto(shop)

    page.get_by_role("button", name=german("Open chat")).click()
    welcome = german(
        "Hi! I'm the assistant of {shop}. I can tell you where your order is and share tracking details.",
        shop="Acme Outfitters",
    )
    expect(conversation(page, german)).to_contain_text(welcome)
    for prompt in QUICK_PROMPTS:
        expect(page.get_by_role("button", name=german(prompt))).to_be_visible()

    page.get_by_label(german("Message")).fill("1042")
    page.get_by_label(german("Message")).press("Enter")

    expect(conversation(page, german)).to_contain_text(
        german(
            "Thanks. To keep your details safe, what's the email address you used for order #{number}?",
            number="1042",
        )
    )
    context.close()
