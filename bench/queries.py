"""Catalog requests as people make them: thousands of distinct searches while typing.

Each path is a search of 1 to 6 typed letters of a word the data set holds (an
origin, region, variety, roaster or flavour, origins and flavours in English and
Russian), sometimes after a first whole word, with filters, a sort and a page
drawn with a fixed seed, so every run asks the same list.
"""
import os
import random
import re
from urllib.parse import urlencode

from sqlalchemy import create_engine, select

SEED = 2026
FILTERS = {  # how often a filter is set, and to what
    "origin": 0.12, "process": 0.15, "roast": 0.15, "flavour": 0.10, "min_rating": 0.10,
}
SORTS = ("top", "top", "reviews", "newest", "name")  # the default sort twice as often
MIN_RATINGS = ("3", "3.5", "4", "4.5")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def vocabulary(url: str) -> dict[str, list[str]]:
    """The data set's words by kind; origins and flavours in both languages."""
    from webapp import countries, flavours
    from webapp.models import Coffee, CoffeeNote

    engine = create_engine(url)
    with engine.connect() as conn:
        column = lambda c: sorted(v for v in conn.scalars(select(c).distinct()) if v)  # noqa: E731
        origins, regions = column(Coffee.origin), column(Coffee.region)
        varieties, roasters = column(Coffee.variety), column(Coffee.roaster)
        tags = column(CoffeeNote.tag)
    engine.dispose()
    kinds = {
        "origin": [countries.search_words(code) for code in origins],
        "region": regions, "variety": varieties, "roaster": roasters,
        "flavour": [flavours.search_words([tag]) for tag in tags],
    }
    words = {kind: sorted({w for text in texts for w in _words(text)})
             for kind, texts in kinds.items()}
    return {"words": words, "origins": origins, "tags": tags}


def catalog_paths(url: str, count: int = 20_000, seed: int = SEED) -> list[str]:
    """``count`` distinct catalog paths, in a fixed order for a given data set."""
    data = vocabulary(url)
    kinds = {kind: words for kind, words in data["words"].items() if words}
    rng = random.Random(seed)
    from webapp.models import PROCESSES, ROASTS
    choices = {"origin": data["origins"], "process": sorted(PROCESSES),
               "roast": sorted(ROASTS), "flavour": data["tags"], "min_rating": MIN_RATINGS}
    paths, seen = [], set()
    attempts = 0
    while len(paths) < count and attempts < count * 50:
        attempts += 1
        word = rng.choice(kinds[rng.choice(sorted(kinds))])
        q = word[:rng.randint(1, min(6, len(word)))]
        if rng.random() < 0.25:  # a second word being typed after a first whole one
            first = rng.choice(kinds[rng.choice(sorted(kinds))])
            q = f"{first} {q}"
        args = {"q": q}
        for name, chance in FILTERS.items():
            if rng.random() < chance:
                args[name] = rng.choice(choices[name])
        sort = rng.choice(SORTS)
        if sort != "top":
            args["sort"] = sort
        page = 1 if rng.random() < 0.7 else rng.randint(2, 5)
        if page > 1:
            args["page"] = page
        path = "/coffees?" + urlencode(args)
        if path not in seen:
            seen.add(path)
            paths.append(path)
    return paths


def write_paths(paths: list[str], directory) -> str:
    """The paths, one a line, in a file for wrk's Lua script."""
    path = os.path.join(directory, "catalog-paths.txt")
    with open(path, "w") as f:
        f.write("\n".join(paths) + "\n")
    return path
