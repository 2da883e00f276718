"""Search that understands people: one normalisation for stored and searched words
(case, accents, ё, NFKC), "did you mean" from the catalog's own words, and
migration 0006, which rebuilds the stored words as ``flask coffees reindex`` does."""
import html
import importlib.util
import random
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from alembic import command

from tests.conftest import HX, make_app
from webapp import countries, flavours, searchtext
from webapp.extensions import db
from webapp.seed_catalog import make_coffee_rows
from webapp.services import coffees as svc
from webapp.services.coffees import CatalogQuery

RU = {"Accept-Language": "ru-RU,ru;q=0.9"}
MIGRATION = Path(__file__).parent.parent / "migrations" / "versions" / "0006_search_normalise.py"


def found(q: str, **filters) -> set[str]:
    """The names of the coffees a catalog search finds."""
    page = svc.search_catalog(CatalogQuery(q=q, **filters).cleaned(), per_page=50)
    coffees = svc.coffees_by_id([row.id for row in page.items])
    return {coffees[row.id].name for row in page.items}


def page_text(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


class TestNormalisation:
    def test_accents_fold_both_ways(self, make_coffee):
        make_coffee("La Pastora", origin="CR", region="Tarrazú")
        make_coffee("Cerro Verde", origin="CR", region="Tarrazu")
        make_coffee("Kochere", origin="ET")
        both = {"La Pastora", "Cerro Verde"}
        for q in ("tarrazu", "Tarrazú", "TARRAZÚ", "tarraz", "tárraz"):
            assert found(q) == both, q

    def test_tilde_and_letters_with_a_stroke(self, make_coffee):
        make_coffee("El Tablón", origin="CO", region="Nariño")
        make_coffee("Robusta Honey", origin="VN", region="Đắk Lắk")
        assert found("narino") == found("Narino") == found("nariñ") == {"El Tablón"}
        assert found("tablon") == {"El Tablón"}
        assert found("dak lak") == found("ĐẮK") == {"Robusta Honey"}

    def test_yo_is_ye_in_stored_words_and_queries(self, make_coffee):
        make_coffee("Мёд и корица", roaster="Зерно", notes=["cinnamon"])
        make_coffee("Медовый лот", roaster="Зерно", notes=["cinnamon"])
        make_coffee("Guji", notes=["honey"])  # "Мёд" in Russian, among its note labels
        make_coffee("Karogoto", origin="KE", notes=["lemon"])
        honey = {"Мёд и корица", "Медовый лот", "Guji"}
        for q in ("мед", "Мед", "МЁД", "мёд", "МЕД"):
            assert found(q) == honey, q
        assert found("медо") == {"Медовый лот"} and found("мёдо") == {"Медовый лот"}

    def test_short_i_is_kept(self, make_coffee):
        make_coffee("Мой мёд")
        make_coffee("Мои мёды")
        assert found("мой мед") == {"Мой мёд"}
        assert found("мои мед") == {"Мои мёды"}
        assert found("мед") == {"Мой мёд", "Мои мёды"}
        assert searchtext.words("Йемен, чай") == ["йемен", "чай"]

    def test_nfkc_full_width_and_ligatures(self, make_coffee):
        make_coffee("Kochere", origin="ET")
        make_coffee("Karogoto", origin="KE")
        make_coffee("Aﬁnca", origin="CO")
        assert found("ｅｔｈｉｏｐｉａ") == found("ＥＴＨ") == {"Kochere"}
        assert found("afinca") == {"Aﬁnca"}

    def test_decomposed_input_and_invisible_characters(self, make_coffee):
        nfd = make_coffee("Narin\u0303o Lot", origin="CO")  # n + combining tilde
        shy = make_coffee("Tar\u00adrazu Lot", origin="CR")  # a soft hyphen inside the word
        assert found("narino") == found("Nariño") == found("Narin\u0303") == {nfd.name}
        assert found("tarrazu") == found("Tar\u00adraz") == {shy.name}

    @pytest.mark.parametrize("text, words", [
        ("Tarrazú", ["tarrazu"]), ("NARIÑO", ["narino"]), ("Мёд", ["мед"]),
        ("ЁЛКА Йогурт", ["елка", "йогурт"]), ("ｅｔｈｉｏｐｉａ", ["ethiopia"]),
        ("Straße", ["strasse"]), ("İstanbul", ["istanbul"]), ("Đắk Lắk", ["dak", "lak"]),
        ("Sítio Boa Esperança", ["sitio", "boa", "esperanca"]), ("Kettle & Crow", ["kettle", "crow"]),
    ])
    def test_words(self, text, words):
        assert searchtext.words(text) == words


class TestDidYouMean:
    URL = re.compile(r'<p class="did-you-mean">.*?<a href="([^"]+)">([^<]+)</a>', re.S)

    def suggestion(self, response) -> tuple[str, str] | None:
        match = self.URL.search(page_text(response))
        return (unquote(html.unescape(match.group(1))), match.group(2)) if match else None

    def test_a_misspelt_origin_offers_the_corrected_search(self, client, make_coffee):
        make_coffee("Kochere", origin="ET")
        make_coffee("Karogoto", origin="KE")
        for headers in ({}, HX):  # the full page without JavaScript, and the htmx fragment
            response = client.get("/coffees?q=ethopia", headers=headers)
            assert "0 coffees" in page_text(response)
            assert self.suggestion(response) == ("/coffees?q=ethiopia", "ethiopia")
        corrected = page_text(client.get("/coffees?q=ethiopia"))
        assert "Kochere" in corrected and "Karogoto" not in corrected

    def test_the_link_keeps_the_filters_and_sort(self, client, make_coffee):
        make_coffee("Kochere", origin="ET", process="natural")
        response = client.get("/coffees?q=ethopia&process=natural&sort=name", headers=HX)
        assert self.suggestion(response) == (
            "/coffees?q=ethiopia&process=natural&sort=name", "ethiopia")

    def test_no_suggestion_the_filters_would_leave_empty(self, client, make_coffee):
        make_coffee("Kochere", origin="ET", process="washed")
        assert self.suggestion(client.get("/coffees?q=ethopia", headers=HX)) is not None
        assert self.suggestion(client.get("/coffees?q=ethopia&process=natural", headers=HX)) is None

    def test_only_words_that_find_nothing_are_corrected(self, client, make_coffee):
        make_coffee("Guji Hambela", origin="ET")
        response = client.get("/coffees?q=guji+ethopia", headers=HX)
        assert self.suggestion(response) == ("/coffees?q=guji+ethiopia", "guji ethiopia")
        assert "Guji Hambela" in page_text(client.get("/coffees?q=guji+ethiopia", headers=HX))

    def test_none_when_there_are_results(self, client, make_coffee):
        make_coffee("Kochere", origin="ET")
        assert self.suggestion(client.get("/coffees?q=ethiopa", headers=HX)) is not None
        # "ethiop" is a prefix of a word: it finds the coffee, and nothing is suggested.
        response = client.get("/coffees?q=ethiop", headers=HX)
        assert "Kochere" in page_text(response) and self.suggestion(response) is None

    def test_none_for_words_like_nothing_in_the_catalog(self, client, make_coffee):
        make_coffee("Kochere", origin="ET")
        assert self.suggestion(client.get("/coffees?q=kochre", headers=HX)) is not None
        for q in ("zanzibar", "kxyzqw", "kochere+zanzibar"):
            response = client.get(f"/coffees?q={q}", headers=HX)
            assert "0 coffees" in page_text(response) and self.suggestion(response) is None, q

    def test_in_russian(self, client, make_coffee):
        make_coffee("Kochere", origin="ET")
        response = client.get("/coffees?q=эфопия", headers={**HX, **RU})
        assert "Возможно, вы имели в виду" in page_text(response)
        assert self.suggestion(response) == ("/coffees?q=эфиопия", "эфиопия")

    def test_the_catalog_words_are_read_once_per_process(self, app, client, make_coffee):
        make_coffee("Kochere", origin="ET")
        statements = []

        def record(_conn, _cursor, statement, *_args):
            statements.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            def lexicon_reads(url: str) -> int:
                statements.clear()
                client.get(url, headers=HX)
                return sum("GROUP BY coffee_terms.term" in s for s in statements)

            assert lexicon_reads("/coffees?q=ethiop") == 0  # results: no suggestion sought
            assert lexicon_reads("/coffees?q=ethopia") == 1
            assert lexicon_reads("/coffees?q=kenua") == 0  # kept for the process
            app.extensions.pop("search_lexicon")  # as when its minute is over
            assert lexicon_reads("/coffees?q=kenuaa") == 1
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)

    def test_lexicon_prefers_the_nearest_then_the_commonest(self):
        lexicon = searchtext.Lexicon({"ethiopia": 5, "ethiopian": 1, "kenya": 3, "kenia": 1})
        assert lexicon.closest("ethopia") == "ethiopia"
        assert lexicon.closest("kenyaa") == "kenya"
        assert lexicon.closest("et") is None and lexicon.closest("zzzz") is None
        numbered = searchtext.Lexicon({"lot": 2, "1234": 1, "sl28": 1})
        assert numbered.closest("12345") is None and numbered.closest("sl29") is None
        assert numbered.correct(["lott"]) == ["lot"]
        assert lexicon.correct(["ethiop", "kenya"]) is None  # nothing to correct
        assert lexicon.correct(["ethopia", "ken"]) == ["ethiopia", "ken"]
        assert lexicon.correct(["ethopia", "qqqq"]) is None


# The words as revisions before 0006 stored them (webapp/services/coffees.py then).
def old_words(text: str) -> list[str]:
    return re.sub(r"[\W_]+", " ", text.lower()).split()


def old_search_text(row: dict) -> str:
    parts = [row["name"], row["roaster"], row["region"], row["producer"], row["variety"],
             countries.search_words(row["origin"]), flavours.search_words(row["notes"])]
    return " " + " ".join(old_words(" ".join(parts)))


def migration_module():
    spec = importlib.util.spec_from_file_location("search_normalise", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def snapshot(connection) -> tuple[dict, dict]:
    texts = dict(connection.execute(sa.text("SELECT id, search_text FROM coffees")).all())
    terms = {}
    for coffee_id, term in connection.execute(sa.text(
            "SELECT coffee_id, term FROM coffee_terms ORDER BY coffee_id, term")):
        terms.setdefault(coffee_id, []).append(term)
    return texts, terms


def test_migration_0006_rebuilds_the_words_as_reindex_does(empty_database_url):
    app = make_app(empty_database_url)
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        command.upgrade(config, "0005_user_sessions")
        rows = make_coffee_rows(random.Random(7), 1100, lot_start=1, added_by=[])
        rows += [  # spellings the old words split apart, and a Russian name with ё and й
            {**rows[0], "name": "Narin\u0303o Decomposed", "region": "İbagué"},
            {**rows[1], "name": "Мёд Йемена", "notes": ["honey", "black-tea"]},
        ]
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        with db.engine.begin() as conn:
            table = sa.Table("coffees", sa.MetaData(), autoload_with=conn)
            values = []
            for n, row in enumerate(rows):
                full = {**row, "dedupe_key": f"key{n}", "search_text": old_search_text(row),
                        "created_at": now, "updated_at": now, "rating_count": 0,
                        "rating_sum": 0, "rating_bayes": 0.0, "rating_mean": None,
                        **{f"hist_{i}": 0 for i in range(1, 11)}}
                values.append({c.name: full[c.name] for c in table.columns if c.name != "id"})
            conn.execute(table.insert(), values)
            coffees = conn.execute(sa.text("SELECT id, search_text, dedupe_key FROM coffees")).all()
            by_key = {r.dedupe_key: r for r in coffees}
            conn.execute(sa.text("INSERT INTO coffee_notes (coffee_id, tag, position) "
                                 "VALUES (:coffee_id, :tag, :position)"),
                         [{"coffee_id": by_key[f"key{n}"].id, "tag": tag, "position": i}
                          for n, row in enumerate(rows) for i, tag in enumerate(row["notes"])])
            conn.execute(sa.text("INSERT INTO coffee_terms (term, coffee_id) VALUES (:t, :c)"),
                         [{"t": t, "c": r.id} for r in coffees
                          for t in sorted({w[:64] for w in r.search_text.split()})])

        command.upgrade(config, "0006_search_normalise")
        with db.engine.connect() as conn:
            migrated = snapshot(conn)
        command.upgrade(config, "head")
        result = app.test_cli_runner().invoke(args=["coffees", "reindex"])
        assert result.exit_code == 0, result.output
        with db.engine.connect() as conn:
            reindexed = snapshot(conn)

        texts, terms = migrated
        assert len(texts) == len(rows) == 1102
        every = {t for words in terms.values() for t in words}
        assert {"tarrazu", "narino", "catuai", "мед", "черный", "чай", "йемена"} <= every
        assert not {"tarrazú", "nariño", "мёд", "catuaí", "черныи", "емена"} & every
        # Words the old split cut at a combining mark or a dotted İ are whole again.
        decomposed = by_key[f"key{len(rows) - 2}"].id
        assert {"narino", "decomposed", "ibague"} <= set(terms[decomposed])
        assert "narin" not in terms[decomposed]
        assert migrated == reindexed
        db.engine.dispose()


def test_migration_takes_label_words_as_the_labels_normalise(app):
    """The migration normalises the stored words of country and flavour labels
    instead of the labels (which it cannot import): the same words, for every label."""
    migration = migration_module()
    labels = [countries.search_words(code) for code in countries._names("en")]
    labels += [flavours.search_words([slug]) for slug in flavours.FLAVOURS]
    for label in labels:
        assert migration.words(" ".join(old_words(label))) == searchtext.words(label), label
    for text in ("Tarrazú", "Narin\u0303o", "Мёд Йемена", "ｅｔｈｉｏｐｉａ", "Đắk", "Tar\u00adrazu"):
        assert migration.words(text) == searchtext.words(text)
