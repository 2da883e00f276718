"""A device in plain words from a User-Agent string: "Firefox on Linux".

Deliberately tiny: the sessions page only needs to tell a person's own devices
apart, not a full browser database. Order matters: Edge, Opera and Yandex
also call themselves Chrome and Safari; Android also says Linux.
"""
import re

from flask_babel import gettext as _

BROWSERS = (
    (r"\bEdg(e|A|iOS)?/", "Edge"),
    (r"\bOPR/|\bOpera\b", "Opera"),
    (r"\bYaBrowser/", "Yandex Browser"),
    (r"\bSamsungBrowser/", "Samsung Internet"),
    (r"\bFirefox/|\bFxiOS/", "Firefox"),
    (r"\b(Headless)?Chrome/|\bCriOS/|\bChromium/", "Chrome"),
    (r"\bVersion/[\d.]+.*\bSafari/", "Safari"),
)
SYSTEMS = (
    (r"\bAndroid\b", "Android"),
    (r"\b(iPhone|iPad|iPod)\b", "iOS"),
    (r"\bWindows\b", "Windows"),
    (r"\bCrOS\b", "ChromeOS"),
    (r"\bMac OS X\b|\bMacintosh\b", "macOS"),
    (r"\bLinux\b|\bX11\b", "Linux"),
)


def _first(patterns, text: str) -> str | None:
    return next((name for pattern, name in patterns if re.search(pattern, text)), None)


def browser_and_system(user_agent: str) -> tuple[str | None, str | None]:
    """The browser's and the operating system's names, None where unknown."""
    return _first(BROWSERS, user_agent or ""), _first(SYSTEMS, user_agent or "")


def describe(user_agent: str) -> str:
    """E.g. "Firefox on Linux", in the current language."""
    browser, system = browser_and_system(user_agent)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    if browser:
        return browser
    if system:
        return _("A browser on %(system)s", system=system)
    return _("Unknown device")
