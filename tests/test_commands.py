"""flask create-admin and flask seed."""
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from webapp.models import User
from webapp.seed import DEMO_PASSWORD, DEMO_USERS
from webapp.services.users import find_by_username


def test_create_admin_promotes_an_existing_user(runner, make_user, db):
    bob = make_user("bob")
    result = runner.invoke(args=["create-admin", "BOB"])
    assert result.exit_code == 0 and "bob is now an admin." in result.output
    db.session.refresh(bob)
    assert bob.role == "admin"


def test_create_admin_creates_the_user_asking_for_a_password(runner):
    result = runner.invoke(args=["create-admin", "boss"],
                           input=f"boss@example.com\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Created admin boss." in result.output
    assert PASSWORD not in result.output  # the prompt hides it
    boss = find_by_username("boss")
    assert boss.role == "admin" and boss.check_password(PASSWORD)


def test_create_admin_rejects_a_short_password(runner, db):
    result = runner.invoke(args=["create-admin", "boss", "--email", "boss@example.com",
                                 "--password", "short"])
    assert result.exit_code != 0 and "password" in result.output
    assert find_by_username("boss") is None


def test_create_admin_rejects_a_bad_username(runner):
    result = runner.invoke(args=["create-admin", "no spaces", "--email", "b@example.com",
                                 "--password", PASSWORD])
    assert result.exit_code != 0 and "username" in result.output


def test_seed_creates_demo_users_once(runner, db):
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert DEMO_PASSWORD in first.output and "admin" in first.output
    count = db.session.scalar(select(func.count(User.id)))
    assert count >= len(DEMO_USERS)
    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0
    assert db.session.scalar(select(func.count(User.id))) == count
    admin = find_by_username("admin")
    assert admin.role == "admin" and admin.check_password(DEMO_PASSWORD)
    assert find_by_username("moderator").role == "moderator"


def test_seed_if_empty_leaves_a_used_database_alone(runner, make_user, db):
    make_user("bob")
    result = runner.invoke(args=["seed", "--if-empty"])
    assert result.exit_code == 0 and "not seeding" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 1


def test_seed_refuses_production(app, runner, db):
    app.config["ENV_NAME"] = "production"
    result = runner.invoke(args=["seed"])
    assert result.exit_code != 0 and "production" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0
