"""The ACME protocol in process: an order from newAccount to the certificate chain."""

from cryptography import x509

from portal.extensions import db

from .flow import finalize, order_ready


def test_an_order_goes_from_new_account_to_the_certificate_chain(acme, http01):
    order_url = order_ready(acme, http01, ["www.acme.test"])
    # ready at once: the validation that completed the last authorization made it so
    assert acme.post(order_url).json["status"] == "ready"
    reply = finalize(acme, order_url, ["www.acme.test"])
    assert reply.status == 200, reply
    assert reply.json["status"] == "valid"
    chain = acme.post(reply.json["certificate"])
    assert chain.status == 200
    assert chain.headers["content-type"] == "application/pem-certificate-chain"
    certificates = x509.load_pem_x509_certificates(chain.body)
    assert len(certificates) == 2
    sans = certificates[0].extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert sans.value.get_values_for_type(x509.DNSName) == ["www.acme.test"]
    assert http01.requests == [(f"www.acme.test:{http01.port}",
                                http01.requests[0][1])]


def test_every_step_is_in_the_audit_log_and_the_certificate_row_came_first(acme, http01):
    from portal.models import AuditEvent, Certificate

    order_url = order_ready(acme, http01, ["www.acme.test"])
    reply = finalize(acme, order_url, ["www.acme.test"])
    assert reply.status == 200
    actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]
    assert actions[-6:] == ["acme.account.create", "acme.order.create",
                            "acme.challenge.answer", "acme.challenge.valid",
                            "certificate.issue", "acme.issue"]
    issue = db.session.query(AuditEvent).filter_by(action="acme.issue").one()
    row = db.session.query(Certificate).filter_by(serial=issue.serial).one()
    assert (row.status, row.profile) == ("issued", "server")
    days = (row.not_after - row.not_before).days
    assert days == 90  # the endpoint's default validity
