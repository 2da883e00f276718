"""The catalog service: validation, duplicates, permissions, search and sorting."""
import pytest
from sqlalchemy import func, select

from webapp.models import Coffee, CoffeeNote, CoffeeTerm, Review
from webapp.services import Forbidden, NotFound, ServiceError
from webapp.services import coffees as svc
from webapp.services.coffees import CatalogQuery, CoffeeData, DuplicateCoffee


def data(**fields) -> CoffeeData:
    values = {"name": "Guji Hambela", "roaster": "North Star", "origin": "ET",
              "process": "natural", "roast": "light", "notes": ["blueberry"], **fields}
    return CoffeeData(**values)


def test_create_keeps_fields_key_and_search_text(user, db):
    coffee = svc.create_coffee(user.id, data(region=" Guji ", altitude=2100,
                                             notes=["blueberry", "jasmine", "blueberry"]))
    assert coffee.region == "Guji" and coffee.altitude == 2100
    assert coffee.added_by_id == user.id and coffee.dedupe_key == "northstar|gujihambela"
    assert coffee.notes == ["blueberry", "jasmine"]
    text = coffee.search_text
    assert "ethiopia" in text and "эфиопия" in text and "blueberry" in text and "fruity" in text
    assert coffee.rating_count == 0 and coffee.rating_bayes == 0 and coffee.rating_mean is None


@pytest.mark.parametrize("fields, field", [
    ({"name": "  "}, "name"),
    ({"roaster": ""}, "roaster"),
    ({"name": "x" * 121}, "name"),
    ({"origin": "XX"}, "origin"),
    ({"origin": "EU"}, "origin"),
    ({"process": "semi-washed"}, "process"),
    ({"roast": "burnt"}, "roast"),
    ({"altitude": -5}, "altitude"),
    ({"altitude": 9000}, "altitude"),
    ({"notes": ["blueberry", "bacon"]}, "notes"),
    ({"notes": list(svc.flavours.FLAVOURS)[:9]}, "notes"),
    ({"description": "x" * 5001}, "description"),
])
def test_invalid_fields_are_refused_and_nothing_saved(user, db, fields, field):
    with pytest.raises(ServiceError) as err:
        svc.create_coffee(user.id, data(**fields))
    assert err.value.field == field
    assert db.session.scalar(select(func.count(Coffee.id))) == 0


def test_exact_duplicate_ignoring_case_and_spaces_is_refused(user, db):
    first = svc.create_coffee(user.id, data())
    with pytest.raises(DuplicateCoffee) as err:
        svc.create_coffee(user.id, data(name="guji  hambela", roaster="NORTHSTAR"))
    assert err.value.existing.id == first.id and err.value.field == "name"


def test_similar_coffees_suggest_near_matches(user, db, make_coffee):
    make_coffee("Guji Hambela", by=user, roaster="North Star")
    make_coffee("Huila Finca", by=user, roaster="Other")
    names = [c.name for c in svc.similar_coffees("Guji Hambella", "North Star")]
    assert names == ["Guji Hambela"]
    assert svc.similar_coffees("ab") == []


class TestPermissions:
    @pytest.mark.parametrize("role, allowed", [("user", False), ("moderator", True),
                                               ("admin", True)])
    def test_edit_by_others_needs_moderation(self, make_user, make_coffee, role, allowed):
        coffee = make_coffee()
        other = make_user(role=role)
        if allowed:
            assert svc.update_coffee(coffee.id, other.id, data(name="Renamed")).name == "Renamed"
        else:
            with pytest.raises(Forbidden):
                svc.update_coffee(coffee.id, other.id, data(name="Renamed"))

    def test_creator_edits_and_notes_are_replaced(self, user, make_coffee):
        coffee = make_coffee(by=user, notes=["blueberry", "jasmine"])
        updated = svc.update_coffee(coffee.id, user.id, data(notes=["jasmine", "lemon"]))
        assert updated.notes == ["jasmine", "lemon"] and "lemon" in updated.search_text

    def test_rename_onto_another_coffee_is_a_duplicate(self, user, make_coffee):
        make_coffee("Taken", by=user, roaster="R")
        coffee = make_coffee("Free", by=user, roaster="R")
        with pytest.raises(DuplicateCoffee):
            svc.update_coffee(coffee.id, user.id, data(name="taken", roaster="r"))

    @pytest.mark.parametrize("role, allowed", [("user", False), ("moderator", True),
                                               ("admin", True)])
    def test_delete_needs_moderation_even_for_creator(self, db, make_user, make_review,
                                                      make_coffee, role, allowed):
        actor = make_user(role=role)
        coffee = make_coffee(by=actor)
        make_review(coffee, actor, 4)
        if allowed:
            svc.delete_coffee(coffee.id, actor.id)
            assert db.session.scalar(select(func.count(Review.id))) == 0
            assert db.session.scalar(select(func.count()).select_from(CoffeeNote)) == 0
        else:
            with pytest.raises(Forbidden):
                svc.delete_coffee(coffee.id, actor.id)

    def test_unknown_ids(self, user):
        with pytest.raises(NotFound):
            svc.get_coffee(999)
        with pytest.raises(NotFound):
            svc.update_coffee(999, user.id, data())
        with pytest.raises(NotFound):
            svc.delete_coffee(999, user.id)


def names_of(page) -> list[str]:
    """The names on a catalog page, whose items are (id, updated_at) rows."""
    coffees = svc.coffees_by_id([row.id for row in page.items])
    return [coffees[row.id].name for row in page.items]


class TestCatalog:
    @pytest.fixture
    def catalog(self, user, make_user, make_coffee, make_review):
        eth = make_coffee("Yirgacheffe Kochere", by=user, origin="ET", process="washed",
                          notes=["jasmine", "lemon"])
        ken = make_coffee("Karogoto AA", by=user, origin="KE", process="washed",
                          roast="medium-light", notes=["blackberry"])
        bra = make_coffee("Cerrado 100%_sweet", by=user, origin="BR", process="natural",
                          roast="medium", notes=["chocolate", "hazelnut"])
        tasters = [make_user() for _ in range(4)]
        for t in tasters:
            make_review(ken, t, 4.5)
            make_review(bra, t, 3)
        make_review(eth, tasters[0], 5)  # one 5-star rating does not rank it first
        return {"eth": eth, "ken": ken, "bra": bra}

    def names(self, **query):
        return names_of(svc.search_catalog(CatalogQuery(**query).cleaned(), per_page=20))

    def test_two_letters_of_an_origin_find_it_in_both_languages(self, catalog):
        assert self.names(q="et") == ["Yirgacheffe Kochere"]
        assert self.names(q="ЭФИ") == ["Yirgacheffe Kochere"]
        assert self.names(q="ken aa") == ["Karogoto AA"]
        assert self.names(q="gach") == []  # words match from their start

    def test_search_covers_notes_and_escapes_wildcards(self, catalog):
        assert self.names(q="berry") == ["Karogoto AA"]
        assert self.names(q="swe") == ["Cerrado 100%_sweet"]  # words split at punctuation
        assert len(self.names(q="%_")) == 3 and self.names(q="1%0") == []

    def test_filters(self, catalog):
        assert self.names(process="washed", sort="name") == ["Karogoto AA", "Yirgacheffe Kochere"]
        assert self.names(origin="BR") == ["Cerrado 100%_sweet"]
        assert self.names(roast="medium-light") == ["Karogoto AA"]
        assert self.names(flavour="fruity", sort="name") == ["Karogoto AA", "Yirgacheffe Kochere"]
        assert self.names(flavour="cocoa") == ["Cerrado 100%_sweet"]
        assert self.names(min_rating=4.5, sort="name") == ["Karogoto AA", "Yirgacheffe Kochere"]

    def test_top_rated_needs_the_minimum_number_of_ratings(self, catalog):
        assert self.names(sort="top") == ["Karogoto AA", "Cerrado 100%_sweet",
                                          "Yirgacheffe Kochere"]
        assert catalog["eth"].rating_bayes == 0

    def test_other_sorts(self, catalog):
        assert self.names(sort="reviews")[-1] == "Yirgacheffe Kochere"
        assert self.names(sort="newest")[0] == "Cerrado 100%_sweet"
        assert self.names(sort="name") == ["Cerrado 100%_sweet", "Karogoto AA",
                                           "Yirgacheffe Kochere"]

    def test_unknown_values_are_dropped(self):
        query = CatalogQuery(origin="XX", process="bogus", roast="x", flavour="bacon",
                             min_rating=2.2, sort="random", page=-3).cleaned()
        assert query == CatalogQuery()
        assert query.args() == {}
        assert CatalogQuery(q="et", page=2, min_rating=4.0).args() == {
            "q": "et", "page": 2, "min_rating": "4"}

    def test_pages(self, user, make_coffee):
        for n in range(25):
            make_coffee(f"Lot {n:02}", by=user)
        page = svc.search_catalog(CatalogQuery(sort="name", page=2), per_page=20)
        assert page.total == 25 and names_of(page)[0] == "Lot 20"


class TestTerms:
    """coffee_terms holds each coffee's distinct search words; a prefix is a range of it."""

    @staticmethod
    def terms(db, coffee_id: int) -> list[str]:
        return list(db.session.scalars(select(CoffeeTerm.term).where(
            CoffeeTerm.coffee_id == coffee_id).order_by(CoffeeTerm.term)))

    @staticmethod
    def found(q: str) -> list[str]:
        return names_of(svc.search_catalog(CatalogQuery(q=q).cleaned(), per_page=20))

    def test_terms_are_the_distinct_words_of_the_search_text(self, user, db):
        coffee = svc.create_coffee(user.id, data(name="Guji Guji Hambela"))
        assert self.terms(db, coffee.id) == sorted(set(coffee.search_text.split()))
        assert {"guji", "hambela", "ethiopia", "эфиопия", "blueberry"} <= set(self.terms(db, coffee.id))

    def test_edit_replaces_the_terms_and_delete_removes_them(self, db, user, make_user):
        coffee = svc.create_coffee(user.id, data())
        svc.update_coffee(coffee.id, user.id, data(name="Karogoto", origin="KE"))
        terms = self.terms(db, coffee.id)
        assert "karogoto" in terms and "kenya" in terms
        assert "guji" not in terms and "ethiopia" not in terms
        assert self.found("guji") == [] and self.found("karo") == ["Karogoto"]
        svc.delete_coffee(coffee.id, make_user(role="moderator").id)
        assert db.session.scalar(select(func.count()).select_from(CoffeeTerm)) == 0

    def test_prefix_ranges_at_their_edges(self, user):
        svc.create_coffee(user.id, data(name="Yaz", roaster="Яблоко", region="z" * 80))
        assert self.found("ya") == ["Yaz"] and self.found("yaz") == ["Yaz"]
        assert self.found("yb") == [] and self.found("yaza") == []
        assert self.found("я") == ["Yaz"] and self.found("ЯБЛ") == ["Yaz"] and self.found("яя") == []
        # Words are kept to their first 64 characters, in the index and in the query.
        assert self.found("z" * 70) == ["Yaz"]
