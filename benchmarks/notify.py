"""One `portal notify run` over a million certificates with a thousand due for a warning.

Beside it, in the same run and interleaved round by round, a plain indexed SELECT of the same
thousand rows (every column, on the same database): the least any job that looks at them
must do. The notify run selects them, checks renewals, claims each warning in the database,
sends one mail per owner (10 owners) and one digest to a real SMTP server on loopback in its
own process: Postfix's smtp-sink (a C test server made for benchmarks, storing nothing) when
installed, or aiosmtpd (Python, asyncio, what the tests use; `--smtp aiosmtpd`), and records
what it sent; its claims are deleted between rounds so that every round sends the same
mails. Then the run that follows (every few minutes in `portal serve`): the same thousand
due, every one warned already. Target: each at most 3 times the SELECT.

Each round also checks that the run used one SMTP connection for its 11 mails, and replays
the very bytes it sent over one plain smtplib session: the SMTP server's own share, which no
client can go under. Likewise the database's share: the statements the run sent about
certificates and expiry notices (the due selection, the claims, marking them sent), replayed
alone through the driver, each with its rows fetched, in a transaction rolled back after.
Together the two shares are the floor of this design: what is left is the run's own Python.

The run is timed in-process (`notify.run_once()`, what `portal notify run` calls); the whole
console script (interpreter and Flask start-up included) is timed once, for information.

    python benchmarks/notify.py [--rows 1000000] [--due 1000] [--rounds 5]
                                [--smtp smtp-sink|aiosmtpd]
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import print_table
from sqlalchemy import event

BATCH = 50_000
TARGET = 3.0
OWNERS = 10
PASSWORD = "bench-password-1"
WINDOW_DAYS = 30


def prepare(rows: int, due: int) -> None:
    """A CA, 10 owners and an admin with addresses, and `rows` certificates, `due` of them due."""
    from sqlalchemy import insert

    from portal import database
    from portal.extensions import db
    from portal.models import Certificate
    from portal.services.authorities import create_ca
    from portal.services.secrets import ensure_instance_secrets
    from portal.services.users import create_user

    ensure_instance_secrets()
    database.upgrade()
    ca = create_ca("bench", key_type="ec-p256", actor="bench")
    create_user("admin", role="admin", password=PASSWORD, email="admin@example.org",
                actor="bench")
    owners = [create_user(f"owner{n}", role="user", password=PASSWORD,
                          email=f"owner{n}@example.org", actor="bench")[0].id
              for n in range(OWNERS)]
    now = datetime.now(UTC).replace(microsecond=0)
    every = rows // due  # the due rows are spread evenly through the table
    statuses = ("issued",) * 9 + ("revoked",)
    for start in range(0, rows, BATCH):
        values = []
        for n in range(start, min(rows, start + BATCH)):
            is_due = n % every == 0 and n // every < due
            values.append({
                "id": n + 1, "ca_id": ca.id, "serial": f"{0x5A000000000 + n:X}",
                "common_name": f"host-{n:07}", "subject": f"CN=host-{n:07}",
                "sans": f"DNS:host-{n:07}.example.com", "profile": "server",
                "key_type": "ec-p256", "status": "issued" if is_due else statuses[n % 10],
                "owner_id": owners[(n // every if is_due else n) % OWNERS],
                "not_before": now - timedelta(days=300),
                # due: inside the 30-day window; the rest expire later (or expired already)
                "not_after": (now + timedelta(days=2, minutes=n % 30_000) if is_due
                              else now + timedelta(days=WINDOW_DAYS + 1, minutes=n)
                              if n % 3 else now - timedelta(days=1, minutes=n)),
                "created_at": now,
            })
        db.session.connection().execute(insert(Certificate), values)
        db.session.commit()
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()


SMTP_SERVERS = ("smtp-sink", "aiosmtpd")
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def default_smtp() -> str:
    """Postfix's smtp-sink when installed (a C server made for benchmarks), else aiosmtpd."""
    return "smtp-sink" if shutil.which("smtp-sink", path=SBIN_PATH) else "aiosmtpd"


def start_smtp(kind: str, folder: Path):
    """The SMTP server in its own process (in a thread here it would compete for our GIL).

    aiosmtpd stores each message in a Maildir; smtp-sink stores nothing (maildir is None).
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.notifying import free_port

    port = free_port()
    if kind == "smtp-sink":
        program = shutil.which("smtp-sink", path=SBIN_PATH)
        if program is None:
            raise SystemExit("smtp-sink is not installed (Debian: apt-get install postfix)")
        # root must name a user to drop to; the backlog (100) is smtp-sink's required argument
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        maildir = None
        server = subprocess.Popen([program, *user, f"127.0.0.1:{port}", "100"],
                                  stdout=subprocess.DEVNULL)
    else:
        maildir = folder / "Maildir"
        server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l",
                                   f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Mailbox",
                                   str(maildir)])
    for _attempt in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port, maildir
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.05)
    server.kill()
    server.wait()
    raise SystemExit(f"{kind} did not start")


def delivered(maildir: Path | None) -> int | None:
    """Messages the SMTP server has stored (None: a server that stores nothing)."""
    if maildir is None:
        return None
    return len(list((maildir / "new").iterdir())) if (maildir / "new").exists() else 0


class SMTPWatch:
    """Wraps the SMTP client: the ms spent in Mailer.send, the connections, the bytes sent."""

    def __init__(self):
        import smtplib

        from portal.services import mailer

        self.spent, self.connections, self.sent = 0.0, 0, []
        send, connect, sendmail = mailer.Mailer.send, mailer.Mailer._connect, \
            smtplib.SMTP.sendmail
        watch = self

        def timed(mailer_self, *args):
            started = time.perf_counter()
            try:
                return send(mailer_self, *args)
            finally:
                watch.spent += (time.perf_counter() - started) * 1000

        def counted(mailer_self):
            watch.connections += 1
            return connect(mailer_self)

        def kept(smtp_self, from_addr, to_addrs, msg, *args, **kwargs):
            watch.sent.append((from_addr, list(to_addrs), msg))
            return sendmail(smtp_self, from_addr, to_addrs, msg, *args, **kwargs)

        mailer.Mailer.send, mailer.Mailer._connect = timed, counted
        smtplib.SMTP.sendmail = kept
        self.plain_sendmail = sendmail

    def reset(self) -> None:
        """Start counting a new run."""
        self.spent, self.connections, self.sent = 0.0, 0, []


def replay(port: int, watch: SMTPWatch) -> float:
    """The same messages (bytes as the run sent them) over one plain smtplib session, in ms.

    What the SMTP server alone costs: the floor under any client sending these mails.
    """
    import smtplib

    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for from_addr, to_addrs, msg in watch.sent:
            watch.plain_sendmail(client, from_addr, to_addrs, msg)
    return (time.perf_counter() - started) * 1000


class StatementLog:
    """The statements a run sends about certificates and expiry notices, as the driver got them."""

    TABLES = re.compile(r"\b(certificates|expiry_notices)\b")
    KINDS = {"SELECT": "due selection", "INSERT": "claims", "UPDATE": "mark sent"}

    @classmethod
    def kind(cls, statement: str) -> str:
        """What the statement does in the run (forgetting stale claims is an UPDATE too)."""
        if statement.startswith("UPDATE") and "_at <" in statement:
            return "forget stale claims"
        return cls.KINDS.get(statement.split()[0], "other")

    def __init__(self, engine):
        self.statements: list[tuple[str, object]] = []
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._keep)

    def _keep(self, connection, cursor, statement, parameters, context, executemany):
        if not executemany and self.TABLES.search(statement):
            self.statements.append((statement, parameters))

    def reset(self) -> None:
        """Start recording a new run."""
        self.statements = []

    def replay(self) -> dict[str, float]:
        """The recorded statements again (as before the run: no notices), ms by statement kind.

        Rolled back after; a kind that repeats is summed.
        """
        spent: dict[str, float] = {}
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("DELETE FROM expiry_notices")  # untimed: the state the run started in
            for statement, parameters in self.statements:
                started = time.perf_counter()
                cursor.execute(statement, parameters)
                cursor.fetchall()
                kind = self.kind(statement)
                spent[kind] = spent.get(kind, 0.0) + (time.perf_counter() - started) * 1000
            cursor.close()
            connection.rollback()
        finally:
            connection.close()
        return spent


def plain_select(window_end: datetime) -> int:
    """The due rows by the (status, not_after) index, every column: the baseline."""
    from portal.extensions import db

    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT * FROM certificates WHERE status = 'issued' AND not_after > ? "
            "AND not_after <= ?",
            (datetime.now(UTC).replace(tzinfo=None).isoformat(" "),
             window_end.replace(tzinfo=None).isoformat(" ")))
        count = len(cursor.fetchall())
        cursor.close()
    finally:
        connection.close()
    return count


def query_plan() -> str:
    """SQLite's plan for the job's due-selection query."""
    from sqlalchemy.dialects import sqlite

    from portal.extensions import db
    from portal.models import utcnow
    from portal.services.notify import due_selection

    statement = due_selection(utcnow(), (1, 3, 7, 14, WINDOW_DAYS)).compile(
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    rows = db.session.execute(db.text(f"EXPLAIN QUERY PLAN {statement}")).all()
    return "; ".join(str(row[-1]) for row in rows)


def main() -> int:
    """Build the data, measure interleaved rounds, print the table; exit 1 on a missed target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smtp", choices=SMTP_SERVERS, default=default_smtp(),
                        help="the SMTP server on loopback (default: smtp-sink if installed)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-notify-"))
    smtp, port, maildir = start_smtp(args.smtp, folder)
    print(f"SMTP server: {args.smtp} on 127.0.0.1:{port}")
    try:
        instance = folder / "instance"
        instance.mkdir(mode=0o700)
        os.environ.update(PORTAL_INSTANCE=str(instance),
                          PORTAL_SMTP_URL=f"smtp://127.0.0.1:{port}",
                          PORTAL_SMTP_STARTTLS="false", PORTAL_NOTIFY_INTERVAL="0")
        from portal import create_app
        from portal.extensions import db
        from portal.models import ExpiryNotice
        from portal.services import notify

        app = create_app()
        with app.app_context():
            started = time.perf_counter()
            prepare(args.rows, args.due)
            print(f"{args.rows:,} certificate rows ({args.due:,} due) inserted in "
                  f"{time.perf_counter() - started:.1f} s")
            plan = query_plan()
            print(f"due-selection plan: {plan}")
            watch = SMTPWatch()
            statements = StatementLog(db.engine)
            selects, sending, steady, in_smtp, server, database = [], [], [], [], [], []
            by_kind: dict[str, list[float]] = {}
            for _round in range(args.rounds):
                db.session.execute(ExpiryNotice.__table__.delete())
                db.session.commit()
                before = delivered(maildir)
                started = time.perf_counter()
                count = plain_select(datetime.now(UTC) + timedelta(days=WINDOW_DAYS))
                selects.append((time.perf_counter() - started) * 1000)
                assert count == args.due, count
                watch.reset()
                statements.reset()
                started = time.perf_counter()
                report = notify.run_once()
                sending.append((time.perf_counter() - started) * 1000)
                recorded = list(statements.statements)
                in_smtp.append(watch.spent)
                assert report.ok and report.warned == 2 * args.due, report
                # smtp-sink stores nothing: sendmail raising on a refusal is the check there
                assert maildir is None or delivered(maildir) - before == OWNERS + 1
                assert watch.connections == 1 and len(watch.sent) == OWNERS + 1
                server.append(replay(port, watch))
                statements.statements = recorded
                kinds = statements.replay()
                statements.reset()
                database.append(sum(kinds.values()))
                for kind, value in kinds.items():
                    by_kind.setdefault(kind, []).append(value)
                started = time.perf_counter()
                report = notify.run_once()  # the same thousand due, every one warned already
                steady.append((time.perf_counter() - started) * 1000)
                assert report.ok and report.mails == 0, report
            # once more from the shell, as cron runs it: nothing is due any more
            started = time.perf_counter()
            script = subprocess.run([str(Path(sys.executable).parent / "portal"), "notify",
                                     "run"], capture_output=True, env=os.environ, timeout=600)
            shell_ms = (time.perf_counter() - started) * 1000
            assert script.returncode == 0, script.stderr
            if os.environ.get("BENCH_SHOW_STATEMENTS"):
                print("\n".join(" ".join(statement.split())[:120] for statement, _ in recorded))
            db.session.remove()
            db.engine.dispose()
    finally:
        smtp.terminate()
        smtp.wait()
        shutil.rmtree(folder, ignore_errors=True)
    baseline = "plain indexed SELECT of the due rows"
    sending_name = "notify run: claim, 11 mails, record"
    print("\nall rounds, ms: select " + " ".join(f"{value:.0f}" for value in selects)
          + " | sending run " + " ".join(f"{value:.0f}" for value in sending)
          + " | replay " + " ".join(f"{value:.0f}" for value in server)
          + " | statements " + " ".join(f"{value:.0f}" for value in database))
    steady_name = "notify run: the same rows, all warned already"
    ok = print_table(
        f"{args.rows:,} certificates, {args.due:,} due: median ms (lower is better)",
        [(baseline, statistics.median(selects), "ms"),
         (sending_name, statistics.median(sending), "ms"),
         (steady_name, statistics.median(steady), "ms"),
         ("  of the sending run: in Mailer.send (SMTP)", statistics.median(in_smtp), "ms"),
         (f"  the same 11 mails replayed by plain smtplib ({args.smtp})",
          statistics.median(server), "ms"),
         (f"  its {len(recorded)} statements on certificates and notices, replayed alone",
          statistics.median(database), "ms")],
        baseline=baseline, higher_is_better=False,
        targets={sending_name: TARGET, steady_name: TARGET})
    print(f"`portal notify run` from the shell with nothing due (start-up included): "
          f"{shell_ms:.0f} ms")
    floor = statistics.median(server) / statistics.median(selects)
    print(f"the SMTP server alone ({args.smtp}, the replay) costs {floor:.1f}x the SELECT"
          + (": the target is out of reach with this server" if floor > TARGET else ""))
    print("the database's share by statement, median ms: " + ", ".join(
        f"{kind} {statistics.median(values):.1f}" for kind, values in by_kind.items()))
    floor += statistics.median(database) / statistics.median(selects)
    print(f"the SMTP server and the database alone (the two replays) cost {floor:.1f}x the SELECT"
          + (": the floor of this design is above the target" if floor > TARGET else ""))
    if "ix_certificates_status_not_after" not in plan:
        print("MISSED: the due selection does not use the (status, not_after) index")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
