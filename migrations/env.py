import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging. Loggers that exist already (the app's,
# when migrations run inside it, as in the tests) keep working.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')


def get_engine():
    try:
        # this works with Flask-SQLAlchemy<3 and Alchemical
        return current_app.extensions['migrate'].db.engine
    except (TypeError, AttributeError):
        # this works with Flask-SQLAlchemy>=3
        return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename): with foreign
            # keys on, dropping the old `users` fires ON DELETE CASCADE and empties
            # `reviews`. webapp/database.py turns them on for every connection.
            _sqlite_foreign_keys(connection, False)
        try:
            context.configure(
                connection=connection,
                target_metadata=get_metadata(),
                **conf_args
            )

            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                _sqlite_foreign_key_check(connection)
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, True)


def _sqlite_foreign_keys(connection, on):
    """Switch SQLite's foreign key enforcement on this connection.

    PRAGMA foreign_keys is silently ignored inside a transaction, so it runs (and is
    committed) before Alembic begins one, and is read back.

    :raise RuntimeError: SQLite did not take the setting.
    """
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    state = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    connection.commit()
    if state != int(on):
        raise RuntimeError(f"SQLite kept foreign_keys={state} (a transaction was open)")


def _sqlite_foreign_key_check(connection):
    """Fail loudly when the migrations left rows pointing at rows that do not exist.

    :raise RuntimeError: naming each table with broken references and how many rows.
    """
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    connection.commit()
    if rows:
        broken = {}
        for table, _rowid, parent, _fkid in rows:
            broken[(table, parent)] = broken.get((table, parent), 0) + 1
        raise RuntimeError("Foreign keys broken after the migrations: " + "; ".join(
            f"{n} row(s) of {table} refer to missing {parent}"
            for (table, parent), n in sorted(broken.items())))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
