"""Several processes revoking and publishing at once on one SQLite instance."""

import multiprocessing
import os
import re
import subprocess

from cryptography import x509
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from portal.services import crl as crl_service
from tests.conftest import BIN
from tests.publishing import crl_number, issue

NUMBER = re.compile(r"CRL number (\d+),")


def _publish_events() -> list[tuple[str, int]]:
    events = db.session.scalars(
        select(AuditEvent).filter_by(action="crl.publish").order_by(AuditEvent.id)).all()
    return [(event.outcome, int(NUMBER.search(event.detail).group(1))) for event in events]


def _check_numbers(events: list[tuple[str, int]], expected: int) -> int:
    """`expected` distinct numbers, stored ones strictly increasing; returns the highest."""
    numbers = [number for _outcome, number in events]
    assert len(set(numbers)) == len(numbers) == expected
    assert {outcome for outcome, _ in events} <= {"ok", "superseded"}
    stored = [number for outcome, number in events if outcome == "ok"]
    assert stored == sorted(stored) and len(set(stored)) == len(stored)
    assert stored[-1] == max(numbers)
    return stored[-1]


def test_twenty_concurrent_revocations_from_separate_processes(app, root_ca, instance):
    issued = [issue(name=f"user{index}") for index in range(20)]
    serials = {cert.serial_number for _row, cert, _key in issued}
    hex_serials = [row.serial for row, _cert, _key in issued]
    db.session.remove()
    db.engine.dispose()

    processes = [
        subprocess.Popen([str(BIN / "portal"), "cert", "revoke", serial, "--reason",
                          "keyCompromise"],
                         env={**os.environ, "PORTAL_INSTANCE": str(instance)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for serial in hex_serials
    ]
    outputs = [process.communicate() for process in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        assert b"revoked" in out

    events = _publish_events()
    assert len(events) == 20
    highest = _check_numbers(events, 20)
    der = crl_service.stored_der(crl_service.crl_state())
    crl = x509.load_der_x509_crl(der)
    assert crl_number(crl) == highest
    assert {entry.serial_number for entry in crl} == serials
    for entry in crl:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        assert reason == x509.ReasonFlags.key_compromise


def _publish_many(instance: str, start, count: int) -> None:
    """In a child process: wait for the others, then publish `count` CRLs back to back."""
    os.environ["PORTAL_INSTANCE"] = instance
    from portal import create_app
    from portal.services.authorities import get_ca

    app = create_app()
    with app.app_context():
        ca = get_ca()
        start.wait()
        for _ in range(count):
            crl_service.publish(ca, actor=f"process:{os.getpid()}")


def test_publishers_racing_in_a_tight_loop(app, root_ca, instance):
    db.session.remove()
    db.engine.dispose()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_publish_many, args=(str(instance), start, 6))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join()
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    events = _publish_events()
    assert len(events) == 24
    assert crl_service.crl_state().number == _check_numbers(events, 24)
