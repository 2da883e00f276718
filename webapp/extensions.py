"""Extension instances; they are bound to the app in ``create_app``."""
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import DeclarativeBase

from webapp.ratelimit import Limiter


def _constraint_name_once(constraint, table) -> str:
    """The given name without a ``ck_<table>_`` prefix, so that ``name="process"`` (the
    models) and ``name="ck_coffees_process"`` (the migrations) both become
    ``ck_coffees_process`` instead of ``ck_coffees_ck_coffees_process``.

    :raise InvalidRequestError: the constraint has no name (as SQLAlchemy's own token does).
    """
    name = constraint.name
    if not isinstance(name, str):
        raise InvalidRequestError(f"A CHECK constraint on {table.name} needs a name.")
    prefix = f"ck_{table.name}_"
    return name[len(prefix):] if name.startswith(prefix) else name


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        # A callable replaces SQLAlchemy's own constraint_name token (only ck uses it).
        "constraint_name": _constraint_name_once,
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    })


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
sock = Sock()
babel = Babel()
limiter = Limiter()
