"""Reviews and the aggregates they keep consistent on the coffee."""
import pytest
from sqlalchemy import func, select

from webapp.extensions import db as _db
from webapp.models import Coffee, Review
from webapp.services import Forbidden, NotFound, ServiceError
from webapp.services import reviews as svc


def fresh(coffee) -> Coffee:
    _db.session.expire_all()
    return _db.session.get(Coffee, coffee.id)


def assert_consistent(coffee_id: int) -> None:
    """The stored aggregates equal what the reviews say."""
    ratings = _db.session.scalars(select(Review.rating).where(Review.coffee_id == coffee_id)).all()
    coffee = _db.session.get(Coffee, coffee_id)
    _db.session.refresh(coffee)
    assert coffee.rating_count == len(ratings) and coffee.rating_sum == sum(ratings)
    assert [getattr(coffee, f"hist_{n}") for n in range(1, 11)] == [
        ratings.count(n) for n in range(1, 11)]
    if ratings:
        assert coffee.rating_mean == pytest.approx(sum(ratings) / len(ratings) / 2)


@pytest.mark.parametrize("value, half", [(0.5, 1), ("4.5", 9), (5, 10), ("3", 6)])
def test_half_stars(value, half):
    assert svc.half_stars(value) == half


@pytest.mark.parametrize("value", [0, 5.5, 4.3, "abc", "", "nan", "inf", -1, None])
def test_rating_off_the_scale_is_refused(value):
    with pytest.raises(ServiceError) as err:
        svc.half_stars(value)
    assert err.value.field == "rating"


def test_write_then_write_again_edits(user, make_coffee):
    coffee = make_coffee()
    review, created = svc.save_review(coffee.id, user.id, 4, "espresso", ["blueberry"], "Nice\r\ncup")
    assert created and review.body == "Nice\ncup" and review.tags == ["blueberry"]
    again, created = svc.save_review(coffee.id, user.id, "2.5", "aeropress", ["lemon"], "")
    assert not created and again.id == review.id and again.rating == 5
    assert again.tags == ["lemon"]
    coffee = fresh(coffee)
    assert coffee.rating_count == 1 and coffee.hist_5 == 1 and coffee.hist_8 == 0
    assert_consistent(coffee.id)


@pytest.mark.parametrize("args, field", [
    ((6, "espresso", [], ""), "rating"),
    ((4, "siphon", [], ""), "brew_method"),
    ((4, "espresso", ["bacon"], ""), "tags"),
    ((4, "espresso", [], "x" * 5001), "body"),
])
def test_bad_input_saves_nothing(user, make_coffee, db, args, field):
    coffee = make_coffee()
    with pytest.raises(ServiceError) as err:
        svc.save_review(coffee.id, user.id, *args)
    assert err.value.field == field
    assert db.session.scalar(select(func.count(Review.id))) == 0
    assert fresh(coffee).rating_count == 0


def test_unknown_coffee(user):
    with pytest.raises(NotFound):
        svc.save_review(999, user.id, 4, "espresso", [], "")


def test_aggregates_follow_create_edit_delete(make_user, make_coffee, make_review, app):
    coffee = make_coffee()
    users = [make_user() for _ in range(4)]
    reviews = [make_review(coffee, u, r) for u, r in zip(users, (5, 4, 3.5, 0.5))]
    c = fresh(coffee)
    assert c.rating_count == 4 and c.rating_mean == pytest.approx(13 / 4)
    prior, weight = app.config["CATALOG_PRIOR_MEAN"], app.config["CATALOG_PRIOR_WEIGHT"]
    assert c.rating_bayes == pytest.approx((13 + prior * weight) / (4 + weight))
    make_review(coffee, users[3], 3)
    assert_consistent(coffee.id)
    svc.delete_review(reviews[0].id, users[0].id)
    svc.delete_review(reviews[1].id, users[1].id)
    assert_consistent(coffee.id)
    assert fresh(coffee).rating_bayes == 0  # two ratings: below the minimum again
    assert [s for s, n in fresh(coffee).histogram if n] == [3.5, 3.0]


def test_recompute_repairs_aggregates(make_user, make_coffee, make_review, db):
    coffee = make_coffee()
    for r in (5, 4, 4):
        make_review(coffee, make_user(), r)
    db.session.execute(Coffee.__table__.update().values(rating_count=0, rating_sum=0, hist_8=7,
                                                        rating_bayes=0))
    db.session.commit()
    svc.recompute_aggregates()
    assert_consistent(coffee.id)
    assert fresh(coffee).rating_bayes > 0


@pytest.mark.parametrize("role, allowed", [("user", False), ("moderator", True),
                                           ("admin", True)])
def test_delete_someone_elses_review(make_user, make_coffee, make_review, role, allowed):
    coffee = make_coffee()
    review = make_review(coffee, make_user(), 4)
    actor = make_user(role=role)
    if allowed:
        assert svc.delete_review(review.id, actor.id) == coffee.id
    else:
        with pytest.raises(Forbidden):
            svc.delete_review(review.id, actor.id)
    with pytest.raises(NotFound):
        svc.delete_review(999, actor.id)


def test_brew_averages_and_flavour_report(make_user, make_coffee, make_review):
    coffee = make_coffee(notes=["blueberry", "berry", "jasmine"])
    make_review(coffee, make_user(), 5, "pour-over", ["blueberry", "jasmine"])
    make_review(coffee, make_user(), 4, "pour-over", ["blueberry"])
    make_review(coffee, make_user(), 2, "espresso", ["chocolate"])
    make_review(coffee, make_user(), 3, "espresso", [])  # noted no flavours
    averages = [(a.method, a.count, a.mean) for a in svc.brew_averages(coffee.id)]
    assert averages == [("espresso", 2, 2.5), ("pour-over", 2, 4.5)]
    report = svc.flavour_report(fresh_with_notes(coffee))
    assert report["tasters"] == 3
    assert [(b.tag, b.count, b.percent) for b in report["bag"]] == [
        ("blueberry", 2, 67), ("berry", 2, 67), ("jasmine", 1, 33)]
    community = {s.tag: (s.count, s.on_bag) for s in report["community"]}
    assert community == {"blueberry": (2, True), "jasmine": (1, True), "chocolate": (1, False)}


def fresh_with_notes(coffee):
    from webapp.services.coffees import get_coffee
    return get_coffee(coffee.id)


def test_user_stats_and_lists(make_user, make_coffee, make_review):
    taster = make_user()
    ke = make_coffee(origin="KE")
    et1, et2 = make_coffee(origin="ET"), make_coffee(origin="ET")
    make_review(ke, taster, 4, "aeropress")
    make_review(et1, taster, 3, "aeropress")
    make_review(et2, taster, 5, "espresso")
    stats = svc.user_stats(taster.id)
    assert stats == {"reviews": 3, "average": 4.0, "origins": [("ET", 2), ("KE", 1)],
                     "brew_method": "aeropress"}
    assert svc.user_stats(make_user().id)["average"] is None
    page = svc.user_reviews(taster.id, 1, 2)
    assert page.total == 3 and page.items[0].coffee.id == et2.id
    assert [r.coffee_id for r in svc.latest_reviews(2)] == [et2.id, et1.id]
    highest = svc.coffee_reviews(et2.id, "highest", 1, 10)
    assert highest.items[0].user.id == taster.id
