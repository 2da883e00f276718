"""Engine set-up that depends on the backend."""
from sqlalchemy import event, text

from webapp.extensions import db


def init_app(app) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        mmap_size = int(app.config["SQLITE_MMAP_SIZE"])
        with app.app_context():
            event.listen(db.engine, "connect",
                         lambda connection, _record: _sqlite_pragmas(connection, mmap_size))


def _sqlite_pragmas(dbapi_connection, mmap_size: int) -> None:
    # WAL lets readers run beside a writer; busy_timeout waits out short locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Reading the database through a memory map instead of read() calls into
    # SQLite's small private cache: measured 4-5x faster catalog queries on the
    # benchmark data (bench/). The map is shared by every connection and process.
    cursor.execute(f"PRAGMA mmap_size={mmap_size}")
    cursor.close()


def locked(stmt):
    """``stmt`` for reading rows this transaction is about to change, safe against
    concurrent writers: ``FOR UPDATE`` on PostgreSQL (a concurrent transaction waits,
    then sees the committed rows); on SQLite, which locks the whole database, the
    transaction first takes the write lock with a write that changes nothing."""
    if db.session.get_bind().dialect.name == "sqlite":
        # Must be the transaction's first write: pysqlite then begins it right here,
        # so the reads below see everything committed before the lock was granted.
        db.session.execute(text("UPDATE users SET id = id WHERE 0"))
        return stmt
    return stmt.with_for_update()


def refresh_statistics() -> None:
    """Fresh statistics for the query planner after a bulk change (seeding, reindexing);
    on PostgreSQL also the visibility map, so that counts can use index-only scans."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
