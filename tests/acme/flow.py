"""Driving an order through the in-process client: answer http-01, validate, finalize."""

import josepy as jose
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app

from portal.acme.validators import parse_settings
from portal.services import acme_validation


def make_csr(names, key=None, common_name=None):
    """A CSR (DER) for DNS names and IP addresses, and its key."""
    import ipaddress

    key = key or ec.generate_private_key(ec.SECP256R1())
    sans = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    subject = [x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)] if common_name else []
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name(subject))
           .add_extension(x509.SubjectAlternativeName(sans), critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.DER), key


def validate_now() -> int:
    """Run the validation worker once, here."""
    return acme_validation.run_once(parse_settings(current_app.config))


def order_ready(client, http01, names):
    """A new order for `names` whose http-01 challenges were answered and validated."""
    reply = client.post(client.directory["newOrder"],
                        {"identifiers": [_identifier(n) for n in names]})
    assert reply.status == 201, reply
    order_url = reply.headers["location"]
    for authz_url in reply.json["authorizations"]:
        authz = client.post(authz_url).json
        if authz["status"] == "valid":
            continue
        challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
        http01.answers[challenge["token"]] = client.key_authorization(challenge["token"])
        assert client.post(challenge["url"], {}).status == 200
    validate_now()
    return order_url


def finalize(client, order_url, names, **csr_options):
    """Finalize with a CSR for `names`; the reply."""
    order = client.post(order_url).json
    der, _ = make_csr(names, **csr_options)
    return client.post(order["finalize"], {"csr": jose.b64encode(der).decode()})


def _identifier(name):
    import ipaddress

    try:
        ipaddress.ip_address(name)
        return {"type": "ip", "value": name}
    except ValueError:
        return {"type": "dns", "value": name}
