"""Domain events: services announce what happened; subscribers hear it after commit.

A service calls ``record(review_saved, coffee_id=..., ...)`` inside its transaction.
The event waits on the database session and is sent when that transaction commits;
a rollback (of the transaction, or of the savepoint it was recorded in) drops it.
Subscribers are connected per app in ``create_app`` (``connect``), never at import,
and receive ids only. They run after the commit, when the session can no longer run
SQL for them: they hand work on (a cache version, the broker, a job queue) and must
not raise; an exception in one is logged and the others still run.
"""
import logging

from blinker import Namespace
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_signals = Namespace()

review_saved = _signals.signal("review-saved")      # coffee_id, review_id, user_id, created
review_deleted = _signals.signal("review-deleted")  # coffee_id, review_id, user_id
coffee_changed = _signals.signal("coffee-changed")  # coffee_id, action: created|updated|deleted
ratings_recomputed = _signals.signal("ratings-recomputed")  # coffee_ids (None: all)
# Chat (webapp/services/chat.py); user_id is who posted, edited or deleted the message.
message_posted = _signals.signal("message-posted")    # room_id, message_id, user_id
message_edited = _signals.signal("message-edited")    # room_id, message_id, user_id
message_deleted = _signals.signal("message-deleted")  # room_id, message_id, user_id

_PENDING = "crema_events"
_MARKS = "crema_event_marks"


def record(signal, session: Session | None = None, **payload) -> None:
    """Announce ``signal`` with ``payload`` once the current transaction commits."""
    if session is None:
        from webapp.extensions import db
        session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback or close before any SQL drops the event too
    session.info.setdefault(_PENDING, []).append((signal, payload))


def connect(app, signal, receiver) -> None:
    """Deliver ``signal`` from ``app``'s sessions to ``receiver(app, **payload)``."""
    signal.connect(receiver, sender=app, weak=False)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session, transaction):
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[id(transaction)] = len(session.info.get(_PENDING, ()))


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session, previous_transaction):
    if previous_transaction.nested:
        mark = session.info.get(_MARKS, {}).pop(id(previous_transaction), None)
        if mark is not None:
            del session.info.get(_PENDING, [])[mark:]
    elif previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_unsent(session, transaction):
    # The outermost transaction ended without after_commit delivering: nothing committed.
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_PENDING, None)
        session.info.pop(_MARKS, None)


@event.listens_for(Session, "after_commit")
def _deliver(session):
    if session.in_nested_transaction():
        # A savepoint was released: its events now belong to the enclosing transaction.
        session.info.get(_MARKS, {}).pop(id(session.get_nested_transaction()), None)
        return
    events = session.info.pop(_PENDING, None)
    session.info.pop(_MARKS, None)
    if not events:
        return
    app = current_app._get_current_object()
    for signal, payload in events:
        for receiver in signal.receivers_for(app):
            try:
                receiver(app, **payload)
            except Exception:  # the data is committed: one subscriber must not stop the rest
                log.exception("subscriber %r of %s failed", receiver, signal.name)
