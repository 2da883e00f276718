"""Catalog HTML rendered once per version of what it shows ("Russian doll" caching).

A card shows nothing that depends on who is looking, so its HTML is kept in a
per-process LRU keyed by the coffee's id, its ``updated_at`` (set by every change
to the coffee and its rating aggregates) and the language. The results fragment
around the cards is kept the same way, keyed by everything it shows (the query,
the total, the page's (id, updated_at) rows, the language, whether the reader is
logged in) and by the catalog version (webapp.caches), which every committed
write bumps for every process. The rows always come from the database, so a
changed coffee has a new key: no process can serve stale HTML, and old entries
simply age out.
"""
from flask import current_app, render_template
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

from webapp.caches import app_cache, catalog_version
from webapp.coffees.card_html import card
from webapp.models import Coffee
from webapp.services import coffees as coffee_service

def render_results(template: str, *, query, pagination, **context) -> str:
    """The results fragment ``template`` for this page of the catalog."""
    cache = app_cache("catalog_fragments", current_app.config["FRAGMENT_CACHE_SIZE"])
    version = catalog_version() if cache is not None else None
    if version is None:
        return render_template(template, query=query, pagination=pagination, **context)
    key = (version, template, tuple(query.args().items()), pagination.total,
           tuple(tuple(row) for row in pagination.items), str(get_locale()),
           current_user.is_authenticated)
    html = cache.get(key)
    if html is None:
        html = render_template(template, query=query, pagination=pagination, **context)
        cache.put(key, html)
    return html


def render_cards(items) -> Markup:
    """The cards of ``items``: coffees, or rows with their ``id`` and ``updated_at``.

    Only the cards missing from the cache load their coffee (two lean statements
    for all, webapp.services.coffees.card_coffees).
    """
    cache = app_cache("coffee_cards", current_app.config["CARD_CACHE_SIZE"])
    locale = str(get_locale())
    keys = [(item.id, item.updated_at, locale) for item in items]
    html = [cache.get(key) for key in keys] if cache is not None else [None] * len(keys)
    missing = [item for item, text in zip(items, html) if text is None]
    if missing:
        loaded = coffee_service.card_coffees(
            [item.id for item in missing if not isinstance(item, Coffee)])
        for index, item in enumerate(items):
            if html[index] is None:
                coffee = item if isinstance(item, Coffee) else loaded.get(item.id)
                if coffee is None:  # deleted between the two queries
                    html[index] = ""
                    continue
                html[index] = str(card(coffee))
                if cache is not None:
                    # The key of the loaded row: it may have changed since the page query.
                    cache.put((coffee.id, coffee.updated_at, locale), html[index])
    return Markup("".join(html))
