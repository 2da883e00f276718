"""Parallel requests against a running server cannot corrupt a score or remove the
last admin (on PostgreSQL when TEST_DATABASE_URL is set, else SQLite)."""
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import requests
from sqlalchemy import func, select, update

from tests.conftest import PASSWORD
from webapp.models import Coffee, Review, User
from webapp.services import reviews as review_service


def login(server, user) -> dict:
    """The cookies of a fresh log-in; each thread sends them with its own connection."""
    response = requests.post(f"{server.url}/auth/login", allow_redirects=False,
                             data={"login": user.username, "password": PASSWORD})
    assert response.status_code == 303
    return response.cookies.get_dict()


def in_parallel(calls: list) -> list:
    """Run the calls at once: every thread waits at a barrier before sending."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def post(url: str, cookies: dict, **data):
    return requests.post(url, data=data, cookies=cookies, allow_redirects=False, timeout=30)


def aggregates(db, coffee_id: int) -> dict:
    db.session.expire_all()
    coffee = db.session.get(Coffee, coffee_id)
    return {"count": coffee.rating_count, "sum": coffee.rating_sum,
            "hist": {n: getattr(coffee, f"hist_{n}") for n in range(1, 11)},
            "mean": coffee.rating_mean}


def from_reviews(db, coffee_id: int) -> dict:
    ratings = db.session.scalars(select(Review.rating).where(Review.coffee_id == coffee_id)).all()
    return {"count": len(ratings), "sum": sum(ratings),
            "hist": {n: ratings.count(n) for n in range(1, 11)},
            "mean": sum(ratings) / 2 / len(ratings) if ratings else None}


def test_parallel_edits_of_ones_review_count_once(live_server, db, make_user, make_coffee,
                                                 make_review, runner):
    coffee, alice = make_coffee(), make_user("alice")
    make_review(coffee, alice, 0.5)
    cookies = login(live_server, alice)
    url = f"{live_server.url}/coffees/{coffee.id}/reviews"
    ratings = ["5", "4.5", "5", "4", "5", "3", "5", "2"] * 2

    responses = in_parallel([partial(post, url, cookies, rating=r, brew_method="espresso")
                             for r in ratings])

    assert [r.status_code for r in responses] == [303] * len(ratings)
    stored = aggregates(db, coffee.id)
    assert stored == from_reviews(db, coffee.id)
    assert stored["count"] == 1 and sum(stored["hist"].values()) == 1
    assert runner.invoke(args=["coffees", "recompute", "--check"]).exit_code == 0


def test_any_interleaving_of_creates_edits_and_deletes(live_server, db, make_user, make_coffee):
    coffee = make_coffee()
    users = [make_user() for _ in range(6)]
    sessions = [login(live_server, u) for u in users]
    save_url = f"{live_server.url}/coffees/{coffee.id}/reviews"
    engine = db.engine

    def taster(n: int):
        rng = random.Random(n)
        codes = []
        for _ in range(12):
            if rng.random() < 0.25:
                review_id = _own_review_id(engine, coffee.id, users[n].id)
                if review_id is not None:
                    codes.append(post(f"{live_server.url}/reviews/{review_id}/delete",
                                      sessions[n]).status_code)
                    continue
            codes.append(post(save_url, sessions[n], rating=rng.choice(["0.5", "3", "5"]),
                              brew_method="aeropress").status_code)
        return codes

    results = in_parallel([partial(taster, n) for n in range(len(users))])

    # Each taster deletes only their own review: every request succeeds.
    assert [code for codes in results for code in codes] == [303] * 12 * len(users)
    assert aggregates(db, coffee.id) == from_reviews(db, coffee.id)
    assert review_service.rating_drift() == []


def _own_review_id(engine, coffee_id: int, user_id: int) -> int | None:
    with engine.connect() as conn:
        return conn.scalar(select(Review.id).where(Review.coffee_id == coffee_id,
                                                   Review.user_id == user_id))


def test_double_submitted_first_review_makes_one_review(live_server, db, make_user, make_coffee):
    coffee, bob = make_coffee(), make_user("bob")
    cookies = login(live_server, bob)
    url = f"{live_server.url}/coffees/{coffee.id}/reviews"

    responses = in_parallel([partial(post, url, cookies, rating="4", brew_method="moka-pot")
                             for _ in range(8)])

    assert [r.status_code for r in responses] == [303] * 8
    reviews = db.session.scalar(select(func.count()).select_from(Review)
                                .where(Review.coffee_id == coffee.id))
    assert reviews == 1
    assert aggregates(db, coffee.id) == from_reviews(db, coffee.id)


def test_two_admins_demoting_each_other_leave_one_admin(live_server, db, make_user):
    first, second = make_user("first", role="admin"), make_user("second", role="admin")
    cookies = {u.id: login(live_server, u) for u in (first, second)}
    for _ in range(5):
        responses = in_parallel([
            partial(post, f"{live_server.url}/admin/users/{target.id}/role", cookies[actor.id],
                    role="user")
            for actor, target in ((first, second), (second, first))])

        assert sorted(r.status_code for r in responses) == [303, 403]
        admins = db.session.scalars(select(User.id).where(User.role == "admin")).all()
        assert len(admins) == 1
        db.session.execute(update(User).values(role="admin"))  # both again, next round
        db.session.commit()


def test_recompute_check_reports_drift_and_changes_nothing(runner, db, make_user, make_coffee,
                                                          make_review):
    coffee = make_coffee("Drifted")
    for stars in (5, 4, 4.5):
        make_review(coffee, make_user(), stars)
    assert runner.invoke(args=["coffees", "recompute", "--check"]).exit_code == 0
    db.session.execute(Coffee.__table__.update().values(rating_sum=99, hist_10=0))
    db.session.commit()

    result = runner.invoke(args=["coffees", "recompute", "--check"])

    assert result.exit_code == 1
    assert f"coffee {coffee.id} (Drifted): rating_sum is 99, its reviews say 27" in result.output
    assert "hist_10 is 0, its reviews say 1" in result.output
    assert "1 coffee(s) drifted." in result.output
    assert aggregates(db, coffee.id)["sum"] == 99  # a check changes nothing
    assert runner.invoke(args=["coffees", "recompute"]).exit_code == 0
    assert runner.invoke(args=["coffees", "recompute", "--check"]).exit_code == 0
    assert aggregates(db, coffee.id) == from_reviews(db, coffee.id)
