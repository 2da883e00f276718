"""Jobs for the worker's tests (tests/test_worker.py): real functions a worker process
imports by name, as it does Crema's own."""
from webapp.extensions import db
from webapp.jobs import job
from webapp.models import User


@job
def set_bio(user_id: int, bio: str) -> None:
    """Idempotent: the bio is set, however often the job runs."""
    user = db.session.get(User, user_id)
    if user is not None:
        user.bio = bio
        db.session.commit()


@job
def fail(user_id: int) -> None:
    raise RuntimeError(f"this job fails for user {user_id}")
