"""The catalog's cards, built in Python (webapp/coffees/card_html.py), escape what
people typed and show every part the card shows."""
from tests.conftest import HX

RU = {**HX, "Accept-Language": "ru-RU,ru;q=0.9"}


def card(client, coffee_id: int, headers=HX) -> str:
    page = client.get("/coffees?sort=name", headers=headers).get_data(as_text=True)
    start = page.index(f'id="coffee-{coffee_id}"')
    return page[start:page.index("</article>", start)]


def test_typed_text_is_escaped(client, make_coffee):
    coffee = make_coffee('<b>Lot & "one"</b>', roaster="<i>R</i>", region="<script>x</script>")
    html = card(client, coffee.id)
    assert "&lt;b&gt;Lot &amp; &#34;one&#34;&lt;/b&gt;" in html
    assert "&lt;i&gt;R&lt;/i&gt;" in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<b>" not in html and "<script>" not in html


def test_a_card_shows_origin_tags_notes_and_rating(client, make_coffee, make_review, user):
    coffee = make_coffee("Kochere", region="Yirgacheffe",
                         notes=["blueberry", "jasmine", "lemon", "honey", "rose"])
    make_review(coffee, user, 4.5)
    html = card(client, coffee.id)
    assert '<p class="origin">Ethiopia · Yirgacheffe</p>' in html
    assert '<span class="tag">Washed</span> <span class="tag">Light</span>' in html
    assert html.count('class="chip ') == 4  # the first four notes
    assert '<span class="chip chip-fruity">Blueberry</span>' in html
    assert 'aria-label="4.5 out of 5 stars"' in html and "(1 review)" in html
    assert f'href="/coffees/{coffee.id}"' in html
    ru = card(client, coffee.id, RU)
    assert "Эфиопия" in ru and 'aria-label="4,5 из 5 звёзд"' in ru


def test_unknown_process_and_roast_show_no_tags(client, make_coffee):
    coffee = make_coffee("Unknown", process=None, roast=None, notes=[])
    html = card(client, coffee.id)
    assert 'class="tags"' not in html and 'class="chips"' not in html
    assert "No reviews yet" in html
