"""One view, two renders: helpers for htmx requests and responses."""
import json
from urllib.parse import urlsplit

from flask import Response, make_response, redirect, render_template, request, session
from werkzeug.urls import iri_to_uri


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def is_fragment_request() -> bool:
    """True for an htmx request that is neither boosted nor a history restore."""
    headers = request.headers
    return (
        is_htmx()
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(page: str, fragment: str, status: int = 200, **context) -> Response:
    """Render the full ``page`` or, for a fragment request, only ``fragment``.

    Flashed messages reach a fragment response out of band, into ``#flashes``.
    """
    if is_fragment_request():
        return fragment_response(render_template(fragment, **context), status)
    return make_response(render_template(page, **context), status)


def fragment_response(body: str, status: int = 200) -> Response:
    """A fragment already rendered, with any flashed messages out of band."""
    if _has_flashes():
        body += render_template("_flashes.html", oob=True)
    return make_response(body, status)


def _has_flashes() -> bool:
    # Peek without consuming; _flashes.html consumes them.
    return bool(session.get("_flashes"))


def see_other(url: str) -> Response:
    """Redirect after a successful POST; a fragment request gets a full navigation."""
    if is_fragment_request():
        return hx_redirect(url)
    return redirect(url, code=303)


def hx_redirect(url: str) -> Response:
    response = make_response("", 204)
    response.headers["HX-Redirect"] = url
    return response


def trigger(response: Response, event: str, detail=None) -> Response:
    """Add an ``HX-Trigger`` event (merged with any already set)."""
    current = response.headers.get("HX-Trigger")
    events = json.loads(current) if current else {}
    events[event] = detail if detail is not None else {}
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def retarget(response: Response, selector: str) -> Response:
    response.headers["HX-Retarget"] = selector
    return response


def reswap(response: Response, swap: str) -> Response:
    response.headers["HX-Reswap"] = swap
    return response


def location(response: Response, url: str) -> Response:
    response.headers["HX-Location"] = url
    return response


def safe_next(target: str | None, default: str) -> str:
    """Return ``target`` only if it stays on this site, else ``default``.

    The result is ASCII (non-ASCII percent-encoded): it goes into ``Location``
    and ``HX-Redirect`` headers, which only carry latin-1.
    """
    if not target:
        return default
    target = target.strip()
    if "\\" in target or any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in target):
        return default
    # Checked before parsing: urlsplit raises on hosts like "//[".
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return iri_to_uri(target)
