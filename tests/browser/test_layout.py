"""Layout and keyboard: the header on a phone (with and without JavaScript), the skip
link, the focus ring, long names, the footer."""
import re

import pytest

from tests.browser.steps import expect, path_is
from tests.conftest import PASSWORD

PHONE = {"width": 390, "height": 844}
LONG_NAME = "Alexandra Konstantinopolskaya-Petrova-Rimskaya-Korsakova"


def log_in_at(page, username: str) -> None:
    page.goto("/auth/login")
    page.locator("#login").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-form button[type=submit]").click()
    expect(page).to_have_url(path_is("/"))


def assert_fits(page, width: int) -> None:
    """No sideways scrolling, and every visible link and button of the header and of
    the page's heading inside the screen."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide on a {width}px screen"
    for selector in ("nav a, nav button, nav summary", "h1"):
        for element in page.locator(selector).all():
            if not element.is_visible():  # inside the closed menu
                continue
            box = element.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, selector


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_phone_header_fits_and_its_menu_works(open_page, make_user, javascript):
    """390 px wide, the longest header there is (an admin with a long name, in Russian):
    it fits, the menu opens, and its links work, with JavaScript or without."""
    make_user("alice", role="admin", locale="ru", display_name=LONG_NAME)
    page = open_page(javascript=javascript, **PHONE)
    log_in_at(page, "alice")
    menu = page.locator(".site-header .site-menu")
    links = menu.locator("ul")
    for path in ("/", "/users/alice", "/settings", "/coffees"):
        page.goto(path)
        expect(menu.locator("summary")).to_have_text("Меню")
        expect(links).to_be_hidden()
        assert_fits(page, PHONE["width"])

    menu.locator("summary").click()
    expect(links).to_be_visible()
    expect(menu).to_have_attribute("open", "")
    assert_fits(page, PHONE["width"])
    for name in ("Кофе", "Управление", LONG_NAME, "Настройки", "Выйти"):
        item = links.get_by_role("link", name=name).or_(links.get_by_role("button", name=name))
        expect(item).to_be_in_viewport()

    links.get_by_role("link", name="Настройки").click()
    expect(page).to_have_url(path_is("/settings"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ваш профиль")
    expect(links).to_be_hidden()  # a new page starts with the menu closed
    menu.locator("summary").click()
    links.get_by_role("button", name="Выйти").click()
    expect(page).to_have_url(path_is("/"))
    menu.locator("summary").click()  # logged out: the browser's language again
    expect(links.get_by_role("link", name="Log in")).to_be_visible()
    expect(links.get_by_role("button", name="Log out")).to_have_count(0)


def test_wide_screens_show_the_links_without_a_menu(open_page, make_user):
    make_user("alice")
    page = open_page(width=1024)
    log_in_at(page, "alice")
    header = page.locator(".site-header")
    expect(header.locator("summary")).to_be_hidden()
    for name in ("Coffees", "alice", "Settings"):
        expect(header.get_by_role("link", name=name)).to_be_visible()
    expect(header.get_by_role("button", name="Log out")).to_be_visible()


@pytest.mark.parametrize("lang, label", [("en-US", "Skip to content"),
                                         ("ru-RU", "Перейти к содержанию")])
def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(open_page, lang, label):
    page = open_page(locale=lang)
    page.goto("/coffees")
    skip = page.locator(".skip-link")
    expect(skip).not_to_be_in_viewport()  # out of sight until it has focus
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_have_text(label)
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    expect(page).to_have_url(re.compile(r"/coffees#main$"))
    page.keyboard.press("Tab")  # the reading goes on inside <main>, past the header
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")


def parse_rgb(css: str) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    return (*numbers[:3], numbers[3] if len(numbers) > 3 else 1.0)


def over(color, background) -> tuple[float, float, float]:
    """A translucent colour as it shows on ``background``."""
    alpha = color[3]
    return tuple(alpha * c + (1 - alpha) * b for c, b in zip(color[:3], background[:3]))


def luminance(rgb) -> float:
    def linear(c):
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# The focused element's outline, and the first opaque background behind it (the
# outline is drawn outside the element, on its parent's background).
FOCUS_RING = """() => {
  const el = document.activeElement, style = getComputedStyle(el);
  let bg = 'rgb(255, 255, 255)';
  for (let node = el.parentElement; node; node = node.parentElement) {
    const color = getComputedStyle(node).backgroundColor;
    if (!/rgba\\(.*, 0\\)$/.test(color) && color !== 'transparent') { bg = color; break; }
  }
  return {tag: el.tagName, text: (el.innerText || el.name || '').trim().slice(0, 30),
          style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          color: style.outlineColor, background: bg};
}"""


@pytest.mark.parametrize("path", ["/", "/auth/login", "/auth/register"])
def test_focus_ring_is_visible_with_3_to_1_contrast(open_page, path):
    page = open_page()
    page.goto(path)
    seen = []
    for _ in range(30):  # every tab stop of the page, until focus leaves it
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring["tag"] == "BODY":
            break
        where = f"{ring['tag']} {ring['text']!r} on {path}"
        assert ring["style"] != "none" and ring["width"] >= 2, where
        background = parse_rgb(ring["background"])
        ratio = contrast(over(parse_rgb(ring["color"]), background), background)
        assert ratio >= 3, f"{where}: {ratio:.2f}:1"
        seen.append(ring["tag"])
    assert len(seen) >= 8 and {"A", "INPUT", "BUTTON"} <= set(seen), seen


@pytest.mark.parametrize("width", [360, 768])
def test_long_name_in_russian_fits_narrow_screens(open_page, make_user, width):
    """A logged-in admin has the longest menu, and Russian labels are longer."""
    make_user("alice", role="admin", locale="ru", display_name=LONG_NAME)
    page = open_page(width=width, height=800)
    log_in_at(page, "alice")
    for path in ("/", "/users/alice", "/settings"):
        page.goto(path)
        assert_fits(page, width)
        if page.locator(".site-menu summary").is_visible():
            page.locator(".site-menu summary").click()
            assert_fits(page, width)


def test_footer_sits_at_the_bottom_of_short_pages(page, make_user):
    make_user("alice")
    page.goto("/users/alice")
    footer = page.locator(".site-footer").bounding_box()
    assert footer["y"] + footer["height"] == pytest.approx(900, abs=1)
    assert page.evaluate("document.documentElement.scrollHeight") == 900
