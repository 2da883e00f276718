"""``flask coffees ...``: maintenance of the catalog's derived columns."""
import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.coffees import bp
from webapp.database import refresh_statistics
from webapp.extensions import db
from webapp.models import Coffee
from webapp.services import coffees as coffee_service
from webapp.services import reviews as review_service


@bp.cli.command("recompute")
@click.option("--check", is_flag=True,
              help="Only report aggregates that differ from the reviews; exit 1 if any.")
def recompute(check: bool) -> None:
    """Rebuild every coffee's rating aggregates from its reviews (after changing CATALOG_*)."""
    if check:
        drift = review_service.rating_drift()
        for d in drift:
            click.echo(f"coffee {d.coffee_id} ({d.name}): {d.column} is {d.stored}, "
                       f"its reviews say {d.expected}")
        coffees = len({d.coffee_id for d in drift})
        click.echo(f"{coffees} coffee(s) drifted." if drift else "No drift: every aggregate "
                   "matches the reviews.")
        raise SystemExit(1 if drift else 0)
    review_service.recompute_aggregates()
    click.echo("Rating aggregates recomputed.")


@bp.cli.command("reindex")
def reindex() -> None:
    """Rebuild the search text and terms (after the translations of countries or flavours
    change, or a bulk import), then refresh the planner's statistics."""
    coffees = db.session.scalars(select(Coffee).options(
        selectinload(Coffee.note_links), selectinload(Coffee.term_links))).all()
    for coffee in coffees:
        coffee.search_text = coffee_service.search_text(coffee)
        coffee_service.set_terms(coffee)
    db.session.commit()
    refresh_statistics()
    click.echo(f"{len(coffees)} coffees reindexed; planner statistics refreshed.")
