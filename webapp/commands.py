"""Command-line tools: ``flask create-admin`` and ``flask seed``."""
import click
from flask import current_app
from sqlalchemy import func, select

from webapp import seed as seeding
from webapp.extensions import db
from webapp.models import User
from webapp.services import ServiceError
from webapp.services import users as user_service


def init_app(app) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(seed)


@click.command("create-admin")
@click.argument("username")
@click.option("--email", help="Email for a new account (asked for when missing).")
@click.option("--password", help="Password for a new account (asked for when missing).")
def create_admin(username: str, email: str | None, password: str | None) -> None:
    """Make USERNAME an admin, creating the account if needed."""
    user = user_service.find_by_username(username)
    if user is not None:
        user.role = "admin"
        db.session.commit()
        click.echo(f"{user.username} is now an admin.")
        return
    email = email or click.prompt("Email")
    password = password or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = user_service.register_user(username, email, password, role="admin")
    except ServiceError as err:
        raise click.ClickException(f"{err.field}: {err.message}") from None
    click.echo(f"Created admin {user.username}.")


@click.command("seed")
@click.option("--force", is_flag=True, help="Allow seeding in production.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has any user.")
@click.option("--coffees", type=click.IntRange(min=0), default=0,
              help="Also add this many generated coffees (benchmark data).")
@click.option("--reviews", type=click.IntRange(min=0), default=0,
              help="Reviews to spread over the generated coffees.")
def seed(force: bool, if_empty: bool, coffees: int, reviews: int) -> None:
    """Fill an empty database with demo data; running it again adds nothing twice.

    With --coffees and --reviews it also adds a large generated data set each time.
    """
    if current_app.config.get("ENV_NAME") == "production" and not force:
        raise click.ClickException("Refusing to seed demo accounts in production (use --force).")
    if if_empty and db.session.scalar(select(func.count(User.id))):
        click.echo("The database already has data; not seeding.")
        return
    if reviews and not coffees:
        raise click.ClickException("--reviews needs --coffees to spread them over.")
    report = seeding.seed_demo()
    if coffees:
        report += seeding.seed_benchmark(coffees, reviews)
    for line in report:
        click.echo(line)
