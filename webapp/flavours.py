"""The flavour vocabulary: a fixed tree from the SCA Coffee Taster's Flavor Wheel.

Tags are stored by slug. Every node can be a tag: a taster who only finds
"berry" tags ``berry``; one who is sure tags ``blueberry``.
"""
from dataclasses import dataclass
from functools import cache

from webapp.vocabulary import Vocabulary
from webapp.vocabulary import lazy_label as _l


@dataclass(frozen=True)
class Flavour:
    slug: str
    label: object  # a lazy string: translated when rendered
    parent: str | None
    depth: int  # 0 category, 1 subcategory, 2 flavour

    def __str__(self) -> str:
        return str(self.label)


# category > subcategory > flavours, in wheel order.
_TREE = [
    ("fruity", _l("Fruity"), [
        ("berry", _l("Berry"), [("blackberry", _l("Blackberry")), ("raspberry", _l("Raspberry")),
                                ("blueberry", _l("Blueberry")), ("strawberry", _l("Strawberry"))]),
        ("dried-fruit", _l("Dried fruit"), [("raisin", _l("Raisin")), ("prune", _l("Prune"))]),
        ("other-fruit", _l("Other fruit"), [
            ("coconut", _l("Coconut")), ("cherry", _l("Cherry")),
            ("pomegranate", _l("Pomegranate")), ("pineapple", _l("Pineapple")),
            ("grape", _l("Grape")), ("apple", _l("Apple")), ("peach", _l("Peach")),
            ("pear", _l("Pear"))]),
        ("citrus", _l("Citrus fruit"), [("grapefruit", _l("Grapefruit")), ("orange", _l("Orange")),
                                        ("lemon", _l("Lemon")), ("lime", _l("Lime"))]),
    ]),
    ("sour-fermented", _l("Sour / fermented"), [
        ("sour", _l("Sour"), [("acetic-acid", _l("Acetic acid")), ("citric-acid", _l("Citric acid")),
                              ("malic-acid", _l("Malic acid"))]),
        ("fermented", _l("Alcohol / fermented"), [("winey", _l("Winey")), ("whiskey", _l("Whiskey")),
                                                  ("overripe", _l("Overripe"))]),
    ]),
    ("green-vegetative", _l("Green / vegetative"), [
        ("olive-oil", _l("Olive oil"), []),
        ("raw", _l("Raw"), []),
        ("vegetative", _l("Vegetative"), [("under-ripe", _l("Under-ripe")), ("peapod", _l("Peapod")),
                                          ("hay", _l("Hay-like")), ("herbal", _l("Herb-like"))]),
        ("beany", _l("Beany"), []),
    ]),
    ("other", _l("Other"), [
        ("papery-musty", _l("Papery / musty"), [("stale", _l("Stale")), ("cardboard", _l("Cardboard")),
                                                ("woody", _l("Woody")), ("earthy", _l("Earthy"))]),
        ("chemical", _l("Chemical"), [("bitter", _l("Bitter")), ("salty", _l("Salty")),
                                      ("medicinal", _l("Medicinal")), ("rubber", _l("Rubber"))]),
    ]),
    ("roasted", _l("Roasted"), [
        ("pipe-tobacco", _l("Pipe tobacco"), []),
        ("tobacco", _l("Tobacco"), []),
        ("burnt", _l("Burnt"), [("acrid", _l("Acrid")), ("ashy", _l("Ashy")), ("smoky", _l("Smoky")),
                                ("brown-roast", _l("Brown, roast"))]),
        ("cereal", _l("Cereal"), [("grain", _l("Grain")), ("malt", _l("Malt"))]),
    ]),
    ("spices", _l("Spices"), [
        ("pungent", _l("Pungent"), []),
        ("pepper", _l("Pepper"), []),
        ("brown-spice", _l("Brown spice"), [("anise", _l("Anise")), ("nutmeg", _l("Nutmeg")),
                                            ("cinnamon", _l("Cinnamon")), ("clove", _l("Clove"))]),
    ]),
    ("nutty-cocoa", _l("Nutty / cocoa"), [
        ("nutty", _l("Nutty"), [("peanut", _l("Peanut")), ("hazelnut", _l("Hazelnut")),
                                ("almond", _l("Almond"))]),
        ("cocoa", _l("Cocoa"), [("chocolate", _l("Chocolate")),
                                ("dark-chocolate", _l("Dark chocolate"))]),
    ]),
    ("sweet", _l("Sweet"), [
        ("brown-sugar", _l("Brown sugar"), [("molasses", _l("Molasses")),
                                            ("maple-syrup", _l("Maple syrup")),
                                            ("caramel", _l("Caramelized")), ("honey", _l("Honey"))]),
        ("vanilla", _l("Vanilla"), []),
        ("overall-sweet", _l("Overall sweet"), []),
    ]),
    ("floral", _l("Floral"), [
        ("black-tea", _l("Black tea"), []),
        ("flowery", _l("Flowery"), [("chamomile", _l("Chamomile")), ("rose", _l("Rose")),
                                    ("jasmine", _l("Jasmine"))]),
    ]),
]


def _build() -> dict[str, Flavour]:
    nodes: dict[str, Flavour] = {}
    for cat, cat_label, subs in _TREE:
        nodes[cat] = Flavour(cat, cat_label, None, 0)
        for sub, sub_label, leaves in subs:
            nodes[sub] = Flavour(sub, sub_label, cat, 1)
            for leaf, leaf_label in leaves:
                nodes[leaf] = Flavour(leaf, leaf_label, sub, 2)
    return nodes


FLAVOURS: dict[str, Flavour] = _build()
LABELS = Vocabulary({slug: node.label for slug, node in FLAVOURS.items()})
MAX_TAGS = 12


def get(slug: str) -> Flavour | None:
    return FLAVOURS.get(slug)


def label(slug: str) -> str:
    return LABELS.label(slug)


@cache
def category(slug: str) -> str:
    """The category slug at the root of ``slug``'s branch (used to colour chips)."""
    node = FLAVOURS[slug]
    while node.parent:
        node = FLAVOURS[node.parent]
    return node.slug


def ancestors(slug: str) -> list[str]:
    node, out = FLAVOURS[slug], []
    while node.parent:
        out.append(node.parent)
        node = FLAVOURS[node.parent]
    return out


@cache
def subtree(slug: str) -> frozenset[str]:
    """``slug`` and every flavour below it: a filter on "fruity" finds "blueberry"."""
    return frozenset(s for s in FLAVOURS if s == slug or slug in ancestors(s))


def categories() -> list[tuple[Flavour, list[tuple[Flavour, list[Flavour]]]]]:
    """The tree as nested lists, for forms and the filter select."""
    out = []
    for cat, _label, subs in _TREE:
        out.append((FLAVOURS[cat], [(FLAVOURS[s], [FLAVOURS[leaf] for leaf, _ in leaves])
                                    for s, _sl, leaves in subs]))
    return out


def choices() -> list[tuple[str, object]]:
    """Flat (slug, label) pairs in wheel order."""
    return [(slug, node.label) for slug, node in FLAVOURS.items()]


def search_words(slugs: list[str], locales=("en", "ru")) -> str:
    """Labels of the tags and of their ancestors in every locale, for the search column."""
    every = {s for slug in slugs if slug in FLAVOURS for s in [slug, *ancestors(slug)]}
    return " ".join(LABELS.label(s, locale) for s in sorted(every) for locale in locales)
