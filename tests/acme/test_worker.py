"""The validation worker's loop: it validates answered challenges in its pool, and leaves."""

import threading
import time

from portal.acme_models import AcmeChallenge
from portal.extensions import db
from portal.services import acme_validation


def test_the_worker_validates_an_answered_challenge_and_stops(acme, acme_app, http01):
    order = acme.post(acme.directory["newOrder"], {"identifiers": [
        {"type": "dns", "value": "www.acme.test"}]})
    authz = acme.post(order.json["authorizations"][0]).json
    challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
    http01.answers[challenge["token"]] = acme.key_authorization(challenge["token"])
    assert acme.post(challenge["url"], {}).json["status"] == "processing"
    stop = threading.Event()
    worker = threading.Thread(target=acme_validation.run_periodically, args=(acme_app, stop))
    worker.start()
    try:
        for _ in range(1000):  # bounded by attempts, not by time
            if acme.post(order.headers["location"]).json["status"] == "ready":
                break
            time.sleep(0.02)
    finally:
        stop.set()
        worker.join()
    assert acme.post(order.headers["location"]).json["status"] == "ready"
    row = db.session.get(AcmeChallenge, int(challenge["url"].rsplit("/", 1)[1]))
    db.session.refresh(row)
    assert (row.status, row.claimed_until) == ("valid", None)
    assert len(http01.requests) == 1


def test_the_worker_leaves_once_its_server_is_gone(acme_app):
    done = threading.Event()

    def run():
        acme_validation.run_periodically(acme_app, parent_pid=1 << 30)  # no such parent
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert done.is_set()


def test_a_poll_with_nothing_due_asks_one_cheap_question(acme, acme_app, http01):
    """any_due() says what claim_due() would find: nothing, an answered challenge, then none
    once it is claimed (another host's lease counts as taken)."""
    assert not acme_validation.any_due()
    order = acme.post(acme.directory["newOrder"], {"identifiers": [
        {"type": "dns", "value": "due.acme.test"}]})
    authz = acme.post(order.json["authorizations"][0]).json
    challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
    http01.answers[challenge["token"]] = acme.key_authorization(challenge["token"])
    assert acme.post(challenge["url"], {}).json["status"] == "processing"
    assert acme_validation.any_due()
    jobs = acme_validation.claim_due(4)
    assert [job.token for job in jobs] == [challenge["token"]]
    assert not acme_validation.any_due()
