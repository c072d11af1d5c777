"""Two `portal serve` hosts on one PostgreSQL serve one ACME endpoint together."""

import shutil
import time

import josepy as jose
import pytest
from cryptography import x509

from tests.conftest import IN_CI, run_portal
from tests.pg import PostgresServer, find_program, migrated_template
from tests.serve.serving import serve

from .flow import make_csr
from .jwsclient import Client, https_transport
from .responders import Http01Responder

NAME = "www.acme.test"


@pytest.fixture(scope="module")
def postgres():
    if not (find_program("initdb") and find_program("pg_ctl")):
        message = "PostgreSQL (initdb, pg_ctl) is not installed (.ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer().start()
    server.template = migrated_template(server)
    yield server
    server.stop()


def poll(client, url, wanted, attempts=600):
    """POST-as-GET `url` until its status is `wanted` (bounded by attempts, not by time)."""
    for _ in range(attempts):
        body = client.post(url).json
        if body["status"] == wanted:
            return body
        assert body["status"] in ("pending", "processing", "ready"), body
        time.sleep(0.05)
    raise AssertionError(f"{url} stayed {body['status']}")


def test_an_order_made_through_one_host_completes_through_the_other(postgres, tmp_path):
    database = postgres.create_database(template=postgres.template)
    url = postgres.url(database)
    first, second = tmp_path / "a" / "instance", tmp_path / "b" / "instance"
    run_portal("init", env={"PORTAL_INSTANCE": str(first), "PORTAL_DATABASE_URL": url},
               check=True)
    second.mkdir(parents=True, mode=0o700)
    for name in ("ca-secret", "secret-key"):  # what hosts of one portal share
        shutil.copy(first / name, second / name)
    common = {"PORTAL_DATABASE_URL": url}
    run_portal("acme", "create", "test", "--domain", "acme.test",
               env={**common, "PORTAL_INSTANCE": str(first)}, check=True)
    root = tmp_path / "root.pem"
    root.write_bytes(run_portal("ca", "export", env={**common, "PORTAL_INSTANCE": str(first)},
                                check=True).stdout)
    with Http01Responder() as http01:
        common.update(PORTAL_ACME_HTTP_PORT=str(http01.port),
                      PORTAL_ACME_RESOLVE=f"{NAME}=127.0.0.1")
        with serve({**common, "PORTAL_INSTANCE": str(first)}, workers=1) as a, \
                serve({**common, "PORTAL_INSTANCE": str(second)}, workers=1) as b:
            transport = https_transport(str(root))
            on_a = Client(transport, f"https://localhost:{a.port}/acme/test/directory")
            assert on_a.register().status == 201
            order = on_a.post(on_a.directory["newOrder"], {"identifiers": [
                {"type": "dns", "value": NAME}]})
            assert order.status == 201, order
            on_b = Client(transport, f"https://localhost:{b.port}/acme/test/directory",
                          key=on_a.key)
            on_b.kid = on_a.kid.replace(f":{a.port}/", f":{b.port}/")
            on_b.nonce = on_a.nonce  # a nonce handed out by one host is good on the other
            order_url = order.headers["location"].replace(f":{a.port}/", f":{b.port}/")
            body = on_b.post(order_url).json
            assert body["status"] == "pending"
            authz = on_b.post(body["authorizations"][0]).json
            challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
            http01.answers[challenge["token"]] = on_b.key_authorization(challenge["token"])
            assert on_b.post(challenge["url"], {}).status == 200
            poll(on_b, order_url, "ready")
            der, _ = make_csr([NAME])
            done = on_b.post(body["finalize"], {"csr": jose.b64encode(der).decode()})
            assert done.status == 200 and done.json["status"] == "valid", done
            chain = x509.load_pem_x509_certificates(on_b.post(done.json["certificate"]).body)
            sans = chain[0].extensions.get_extension_for_class(x509.SubjectAlternativeName)
            assert sans.value.get_values_for_type(x509.DNSName) == [NAME]
            # validated once, by one of the two workers, though both poll the database
            assert len(http01.requests) == 1
    postgres.drop_database(database)
