"""A message body as HTML (webapp/chat/markup.py): escaped, links safe, mentions linked."""
import pytest

from webapp.chat.markup import body_html, excerpt


@pytest.fixture(autouse=True)
def request_context(app):
    with app.test_request_context():
        yield


@pytest.mark.parametrize("text, html", [
    ("plain <b>text</b> & more", "plain &lt;b&gt;text&lt;/b&gt; &amp; more"),
    ("see https://a.example/x.", 'see <a href="https://a.example/x" rel="nofollow noopener ugc" '
                                 'target="_blank">https://a.example/x</a>.'),
    ("(https://a.example/wiki/Kona_(coffee))",
     '(<a href="https://a.example/wiki/Kona_(coffee)" rel="nofollow noopener ugc" '
     'target="_blank">https://a.example/wiki/Kona_(coffee)</a>)'),
    ('https://a.example/"onmouseover="x', '<a href="https://a.example/" rel="nofollow noopener ugc" '
                                          'target="_blank">https://a.example/</a>&#34;onmouseover=&#34;x'),
    ("http:// nothing", "http:// nothing"),
    ("ftp://a.example javascript:alert(1)", "ftp://a.example javascript:alert(1)"),
    ("line one\nline two", "line one\nline two"),
])
def test_escapes_and_links(text, html):
    assert str(body_html(text, set())) == html


def test_mentions_link_only_to_the_names_given():
    html = str(body_html("@Ana, @bob and @carol; x@ana.example", {"ana", "carol"}))
    assert html == ('<a class="mention" href="/users/Ana">@Ana</a>, @bob and '
                    '<a class="mention" href="/users/carol">@carol</a>; x@ana.example')


def test_an_excerpt_is_one_line_and_short():
    assert excerpt("a\n\n b   c") == "a b c"
    assert excerpt("x" * 200, 10) == "x" * 9 + "…"
