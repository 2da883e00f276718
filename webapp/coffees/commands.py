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
def recompute() -> None:
    """Rebuild every coffee's rating aggregates from its reviews (after changing CATALOG_*)."""
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
