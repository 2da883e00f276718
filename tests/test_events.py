"""Domain events reach subscribers after the commit, never after a rollback."""
import pytest
from sqlalchemy import text

from tests.conftest import make_app
from webapp import events
from webapp.services import ServiceError
from webapp.services import coffees as coffee_service
from webapp.services import reviews as review_service
from webapp.services.coffees import CoffeeData


@pytest.fixture
def heard(app):
    """What this app's subscribers received, as (signal name, payload) pairs."""
    received = []
    for signal in (events.review_saved, events.review_deleted, events.coffee_changed,
                   events.ratings_recomputed):
        events.connect(app, signal,
                       lambda _app, _name=signal.name, **payload: received.append((_name, payload)))
    return received


def test_delivered_after_commit_only(app, db, heard):
    events.record(events.coffee_changed, coffee_id=1, action="updated")
    db.session.execute(text("SELECT 1"))
    assert heard == []  # recorded, not yet committed
    db.session.commit()
    assert heard == [("coffee-changed", {"coffee_id": 1, "action": "updated"})]


def test_dropped_by_rollback_even_before_any_sql(app, db, heard):
    events.record(events.coffee_changed, coffee_id=1, action="updated")
    db.session.rollback()
    db.session.commit()
    events.record(events.coffee_changed, coffee_id=2, action="updated")
    db.session.close()
    db.session.commit()
    assert heard == []


def test_savepoints_keep_released_events_and_drop_rolled_back_ones(app, db, heard):
    events.record(events.coffee_changed, coffee_id=1, action="updated")
    savepoint = db.session.begin_nested()
    events.record(events.coffee_changed, coffee_id=2, action="updated")
    savepoint.rollback()
    savepoint = db.session.begin_nested()
    events.record(events.coffee_changed, coffee_id=3, action="updated")
    savepoint.commit()
    assert heard == []  # a released savepoint is not a commit
    db.session.commit()
    assert [payload["coffee_id"] for _, payload in heard] == [1, 3]


def test_a_failing_subscriber_does_not_stop_the_others(app, db, heard, caplog):
    def broken(_app, **_payload):
        raise RuntimeError("subscriber down")

    events.connect(app, events.coffee_changed, broken)
    events.record(events.coffee_changed, coffee_id=7, action="deleted")
    db.session.commit()
    assert heard == [("coffee-changed", {"coffee_id": 7, "action": "deleted"})]
    assert "subscriber down" in caplog.text


def test_subscribers_belong_to_their_app(app, db, heard, database_url):
    other = make_app(database_url)
    with other.app_context():
        events.record(events.coffee_changed, coffee_id=9, action="created")
        other.extensions["sqlalchemy"].session.commit()
    assert heard == []


def test_services_announce_what_happened(app, db, heard, make_user, make_coffee):
    alice, mod = make_user("alice"), make_user("mod", role="moderator")
    heard.clear()
    coffee = coffee_service.create_coffee(alice.id, CoffeeData(
        name="Kochere", roaster="Heard", origin="ET", process="washed", roast="light"))
    coffee_service.update_coffee(coffee.id, alice.id, CoffeeData(
        name="Kochere Lot 2", roaster="Heard", origin="ET", process="washed", roast="light"))
    review, created = review_service.save_review(coffee.id, alice.id, 4, "espresso", [], "")
    review_service.delete_review(review.id, mod.id)
    review_service.recompute_aggregates([coffee.id])
    coffee_service.delete_coffee(coffee.id, mod.id)

    assert heard == [
        ("coffee-changed", {"coffee_id": coffee.id, "action": "created"}),
        ("coffee-changed", {"coffee_id": coffee.id, "action": "updated"}),
        ("review-saved", {"coffee_id": coffee.id, "review_id": review.id, "user_id": alice.id,
                          "created": True}),
        ("review-deleted", {"coffee_id": coffee.id, "review_id": review.id,
                            "user_id": alice.id}),
        ("ratings-recomputed", {"coffee_ids": [coffee.id]}),
        ("coffee-changed", {"coffee_id": coffee.id, "action": "deleted"}),
    ]


def test_a_refused_change_announces_nothing(app, db, heard, make_user, make_coffee):
    coffee = make_coffee()
    heard.clear()
    with pytest.raises(ServiceError):
        review_service.save_review(coffee.id, make_user().id, 9, "espresso", [], "")
    with pytest.raises(ServiceError):
        coffee_service.create_coffee(make_user().id, CoffeeData(
            name=coffee.name, roaster=coffee.roaster, origin="ET", process="washed",
            roast="light"))
    db.session.commit()
    assert heard == []
