"""A message body as HTML: escaped, links clickable and safe, mentions highlighted.

Line breaks stay as ``\\n``; the stylesheet shows them (``white-space: pre-wrap``).
"""
import re

from flask import url_for
from markupsafe import Markup, escape

# A web address up to whitespace or a character that cannot be in one unescaped.
_TOKEN = re.compile(r"(?P<url>\bhttps?://[^\s<>\"'`]+)|(?P<mention>(?<![\w@])@[A-Za-z0-9_-]{3,32})")
# Punctuation that ends a sentence rather than the address.
_TRAILING = ".,;:!?'\""
LINK_REL = "nofollow noopener ugc"


def _split_url(url: str) -> tuple[str, str]:
    """(address, trailing punctuation that belongs to the sentence)."""
    end = len(url)
    while end and (url[end - 1] in _TRAILING
                   or url[end - 1] == ")" and url.count("(", 0, end) < url.count(")", 0, end)):
        end -= 1
    return url[:end], url[end:]


def body_html(body: str, mentioned: set[str]) -> Markup:
    """``body`` escaped; addresses become links that open in a new tab without the
    opener and pass no ranking; ``@name`` of a user in ``mentioned`` (lower-cased)
    links to their profile."""
    out, pos = [], 0
    for match in _TOKEN.finditer(body):
        out.append(escape(body[pos:match.start()]))
        pos = match.end()
        if match.group("url"):
            url, rest = _split_url(match.group("url"))
            if url.rstrip("/") in ("http:", "https:"):
                out.append(escape(match.group()))
                continue
            out.append(Markup('<a href="{0}" rel="{1}" target="_blank">{0}</a>{2}')
                       .format(url, LINK_REL, rest))
        else:
            name = match.group("mention")[1:]
            if name.lower() in mentioned:
                href = url_for("profiles.show", username=name)
                out.append(Markup('<a class="mention" href="{0}">@{1}</a>').format(href, name))
            else:
                out.append(escape(match.group()))
    out.append(escape(body[pos:]))
    return Markup("").join(out)


def excerpt(body: str, length: int = 120) -> str:
    """The start of a message on one line, for a quoted reply."""
    text = " ".join(body.split())
    return text if len(text) <= length else text[:length - 1].rstrip() + "…"
