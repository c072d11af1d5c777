"""The unit of work around a request or a command: what the layers above may ask of it."""

from sqlalchemy.exc import DBAPIError

from ..extensions import db

# A failure of the database itself (gone, locked, no tables): the CLI says so in one line.
DatabaseError = DBAPIError


def roll_back() -> None:
    """Discard what a failed request or command wrote and did not commit."""
    db.session.rollback()


def release_connections() -> None:
    """End this process's transaction and close its pooled connections (before forking)."""
    db.session.remove()
    db.engine.dispose()


def database_problem(exc: DBAPIError) -> str:
    """One line saying what is wrong with the database and what to do about it."""
    detail = str(exc.orig).splitlines()[0][:200] if exc.orig else type(exc).__name__
    if "no such table" in detail or "does not exist" in detail:
        return f"the database has no portal tables ({detail}): run `portal init`"
    if "unable to open" in detail:
        return f"cannot open the database ({detail}): run `portal init` to create it"
    return f"database error: {detail}"
