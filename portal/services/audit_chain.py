"""The audit log's integrity chain, as EJBCA's integrity-protected log keeps it.

Each row carries its place in the chain and a seal: an HMAC-SHA256 of its content and of the
previous row's seal, keyed with a key derived from the CA secret (which lives outside the
database) under its own label. Whoever holds only the database file can drop the append-only
triggers and edit rows, but cannot write a seal: `portal audit verify` then names the first
row that was changed, removed or inserted.

Writers serialise on the chain's one-row head: `UPDATE ... RETURNING` takes its row lock on
PostgreSQL (held until commit, so the chain order is the commit order across workers and
hosts) and the database's write lock on SQLite. The row ids follow the same order, since each
row is inserted while its writer holds the head.
"""

import hashlib
import hmac
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import bindparam, select, update

from ..errors import CAKeyUnavailable
from ..models import AuditChainHead, AuditEvent
from ..translatable import N_
from . import cache
from .secrets import ca_secret

_HEAD = AuditChainHead.__table__
_EVENTS = AuditEvent.__table__
CONTENT_COLUMNS = ("id", "at", "actor", "action", "serial", "outcome", "detail")
# One statement on the hot path: lock the head, count the new row in, and read the place and
# seal of the row before it (the last row by id: rows are inserted in chain order, under the
# head's lock). On PostgreSQL a writer that had to wait for the lock reads the last row from
# its statement's snapshot, taken before the previous writer committed: it sees a place that
# is not length - 1 and reads again (LAST_ROW, a new statement, so a new snapshot).
_SEALED = _EVENTS.c.seal.is_not(None)  # rows written without the CA secret are not sealed
LAST_ROW = (
    select(_EVENTS.c.chain_seq, _EVENTS.c.seal).where(_SEALED).order_by(_EVENTS.c.id.desc())
    .limit(1)
)
CLAIM = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(length=_HEAD.c.length + 1)
    .returning(
        _HEAD.c.length,
        select(_EVENTS.c.chain_seq).where(_SEALED).order_by(_EVENTS.c.id.desc()).limit(1)
        .scalar_subquery(),
        select(_EVENTS.c.seal).where(_SEALED).order_by(_EVENTS.c.id.desc()).limit(1)
        .scalar_subquery(),
        _HEAD.c.genesis_after_id,
    )
)
SET_GENESIS = (
    update(_HEAD).where(_HEAD.c.id == 1).values(genesis_seal=bindparam("genesis_seal"))
)
LEGACY_ROWS = (
    select(*(_EVENTS.c[name] for name in CONTENT_COLUMNS))
    .where(_EVENTS.c.id <= bindparam("last_id"))
    .order_by(_EVENTS.c.id)
)


def chain_key_or_none() -> bytes | None:
    """The chain's key, or None when the CA secret is missing (the row is then not sealed).

    An event is never lost for want of the secret (the CLI reports a CRL it cannot re-sign in
    the log): it is written unsealed, and `portal audit verify` names it.
    """
    try:
        return chain_key()
    except CAKeyUnavailable:
        return None


def chain_key() -> bytes:
    """The HMAC key of the chain, derived from the CA secret (once per process)."""
    keys = cache.table("audit_chain.key")
    key = keys.get("key")
    if key is not None:
        return key
    secret = ca_secret()
    if not secret or len(secret.strip()) < 16:
        raise CAKeyUnavailable(
            N_("the audit log cannot be sealed: the CA secret is missing (instance/ca-secret "
               "or PORTAL_CA_SECRET)")
        )
    key = keys["key"] = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal audit chain v1"
    ).derive(secret.strip().encode())
    return key


def _timestamp(value) -> str:
    if type(value) is datetime and value.tzinfo is UTC:  # the common case
        return value.isoformat(timespec="microseconds")
    if isinstance(value, str):  # a driver that hands back text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def content(row) -> bytes:
    """The canonical bytes of a row's content: each field length-prefixed, so none can spill."""
    fields = (_timestamp(row["at"]), row["actor"], row["action"], row["serial"], row["outcome"],
              row["detail"])
    return "".join(
        "-;" if value is None else f"{len(value)}:{value};" for value in fields
    ).encode("utf-8", "surrogatepass")


_KEYED: dict[bytes, "hmac.HMAC"] = {}


def seal(key: bytes, sequence: int, previous: str, row) -> str:
    """The seal of the row at `sequence`, after the row sealed `previous`."""
    # A copy of an HMAC already keyed: OpenSSL 3's one-shot HMAC looks the algorithm up on
    # every call, which cost more than hashing the row.
    keyed = _KEYED.get(key)
    if keyed is None:
        if len(_KEYED) >= 8:  # one key per instance: only tests see several
            _KEYED.clear()
        keyed = _KEYED[key] = hmac.new(key, digestmod=hashlib.sha256)
    mac = keyed.copy()
    mac.update(b"%d\n%s\n%s" % (sequence, previous.encode(), content(row)))
    return mac.hexdigest()


def genesis(key: bytes, last_id: int, legacy_rows) -> str:
    """The seal before the first chained row: it covers every row written before the chain."""
    mac = hmac.new(key, b"portal audit genesis after %d\n" % last_id, hashlib.sha256)
    for row in legacy_rows:
        mac.update(b"%d\n%s\n" % (row["id"], content(row)))
    return mac.hexdigest()


def seal_row(execute, key: bytes, row: dict, pending: dict | None = None) -> None:
    """Claim the next place in the chain and set row's chain_seq and seal (before its INSERT).

    `execute(statement, parameters)` runs a Core statement on the writer's transaction and
    returns its rows. The head stays locked until that transaction ends. `pending` holds the
    place and seal of a row sealed but not inserted yet in the same batch (an ORM flush seals
    every new row before it inserts any).
    """
    length, last_place, last_seal, genesis_after_id = execute(CLAIM, {})[0]
    if pending and pending.get("chain_seq") == length - 1:
        last_seal = pending["seal"]
    elif length == 1:  # the first sealed row: seal what came before the chain as its genesis
        genesis_seal = genesis(key, genesis_after_id,
                               execute(LEGACY_ROWS, {"last_id": genesis_after_id}))
        execute(SET_GENESIS, {"genesis_seal": genesis_seal})
        last_seal = genesis_seal
    elif last_place != length - 1:  # read before the previous writer committed: read again
        last_place, last_seal = execute(LAST_ROW, {})[0]
    row["chain_seq"] = length
    row["seal"] = seal(key, length, last_seal, row)
    if pending is not None:
        pending.update(chain_seq=length, seal=row["seal"])


def verify() -> tuple[bool, str]:
    """Check the whole chain; return (intact, one line naming the first bad row or the count)."""
    from ..extensions import db

    key = chain_key()
    head = db.session.get(AuditChainHead, 1)
    if head is None:
        return False, "the audit chain's head row is missing"
    legacy = hmac.new(key, b"portal audit genesis after %d\n" % head.genesis_after_id,
                      hashlib.sha256)
    expected, previous, last_id, count = 1, None, None, 0
    rows = db.session.execute(
        select(*(_EVENTS.c[name] for name in CONTENT_COLUMNS), _EVENTS.c.chain_seq,
               _EVENTS.c.seal).order_by(_EVENTS.c.id)
    ).mappings()
    for row in rows:
        count += 1
        row_id, sequence = row["id"], row["chain_seq"]
        if sequence is None:
            if row_id > head.genesis_after_id or previous is not None:
                return False, (
                    f"audit row {row_id} was inserted: it has no place in the chain (or it was "
                    "written while the CA secret was missing)"
                )
            legacy.update(b"%d\n%s\n" % (row_id, content(row)))
            last_id = row_id
            continue
        if previous is None:  # the first sealed row: check what came before the chain
            previous = legacy.hexdigest()
            if head.genesis_seal is not None and previous != head.genesis_seal:
                return False, (
                    f"an audit row written before the chain began (ids up to "
                    f"{head.genesis_after_id}) was changed or removed, before audit row {row_id}"
                )
        if sequence < expected:
            return False, (
                f"audit row {row_id} was inserted: place {sequence} in the chain was already "
                "taken"
            )
        if sequence > expected:
            after = f"after audit row {last_id} " if last_id is not None else ""
            missing = sequence - expected
            return False, (
                f"{missing} audit row(s) were removed {after}before audit row {row_id} "
                f"(places {expected}-{sequence - 1} of the chain)"
            )
        if not hmac.compare_digest(seal(key, sequence, previous, row), row["seal"] or ""):
            return False, (
                f"audit row {row_id} was changed or inserted: its seal does not match its "
                "content"
            )
        expected, previous, last_id = sequence + 1, row["seal"], row_id
    if head.length > expected - 1:
        after = f"after audit row {last_id}" if last_id is not None else "from the start"
        return False, (
            f"{head.length - (expected - 1)} audit row(s) were removed at the end of the log, "
            f"{after}"
        )
    sealed = expected - 1
    return True, f"audit log intact: {count} rows, {sealed} sealed in the chain"
