"""The driver path's bind and result processors, with a faster one for SQLite's stored times."""

from datetime import UTC, datetime

from sqlalchemy.engine import Dialect

from ..model_types import UTCDateTime

# Times as SQLite stores them (naive UTC text with microseconds, what SQLAlchemy's DATETIME
# writes): the TypeDecorator and the dialect's %-format took ~2.5 µs a value, four values per
# issuance, where isoformat() takes 0.5. Used only where it gives exactly what the column type
# gives for these samples (checked once per statement), else the column type's own processor.
_TIME_SAMPLES = (
    datetime(2026, 12, 1, 16, 0, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 6),
    datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
)


def _fast_time_bind(processor):
    def bind(value):
        if value.__class__ is datetime:
            zone = value.tzinfo
            if zone is UTC:
                return value.replace(tzinfo=None).isoformat(" ", "microseconds")
            if zone is None:
                return value.isoformat(" ", "microseconds")
        return processor(value)  # None, another zone, a date: as the column type does it
    return bind


def _fast_time_result(processor):
    def result(value):
        if value.__class__ is str:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return processor(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
        return processor(value)
    return result


def bind_processor_for(column_type, dialect: Dialect):
    """The column type's bind processor for the dialect, or a faster one that gives the same."""
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None or not isinstance(column_type, UTCDateTime) or dialect.name != "sqlite":
        return processor
    fast = _fast_time_bind(processor)
    if all(fast(sample) == processor(sample) for sample in _TIME_SAMPLES):
        return fast
    return processor


def result_processor_for(column_type, dialect: Dialect):
    """The column type's result processor for the dialect, or a faster one that gives the same."""
    processor = column_type.dialect_impl(dialect).result_processor(dialect, None)
    if processor is None or not isinstance(column_type, UTCDateTime) or dialect.name != "sqlite":
        return processor
    fast = _fast_time_result(processor)
    bind = bind_processor_for(column_type, dialect)
    stored = [bind(sample) for sample in _TIME_SAMPLES] + ["2026-12-01 16:00:00", "2026-12-01"]
    if all(fast(text) == processor(text) for text in stored):
        return fast
    return processor
