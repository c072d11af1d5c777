"""Issuance speed: the portal's service layer against raw cryptography and openssl.

For an EC P-256 CA and an RSA-2048 CA, in one run on one machine:

- service: `services.issuance.issue_from_csr` on a temporary SQLite instance, every row
  committed (pending before signing, issued after), from prepared CSRs;
- raw: cryptography alone with the same CA key: parse the CSR, verify its signature, build a
  certificate with the same extensions, sign, PEM;
- openssl: `openssl x509 -req -CA` as a subprocess, per certificate.

Target: the service reaches at least 0.30 of the raw rate. Exit status 1 when it does not.
It also prints the CPU time each spent per certificate, and their ratio: on a shared machine
that moves less than the rates (which include waiting for the disk and for other processes).
It also counts the WAL frames (database pages written) per certificate, on `FRAMES_SAMPLE`
more issuances after a checkpoint that empties the WAL: most of a commit's cost is one frame
per page changed. With BENCH_OCSP_RESPONDER=1 the CA has its OCSP responder, so each
issuance also pre-signs and stores the certificate's OCSP answer (without a responder,
issuance stores none).
Usage: python benchmarks/issue.py [--count N] [--chunk C] [--openssl-count M] [--key-type T]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import peak_rss_mb, print_table
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from portal import create_app, database  # importable: common puts the project on sys.path
from portal.ca.keystore import unseal_private_key
from portal.extensions import db
from portal.models import Certificate
from portal.services import authorities, issuance
from portal.services.secrets import ca_secret, ensure_instance_secrets

TARGET = 0.30
WARM_UP = 20
FRAMES_SAMPLE = 100  # ~2,800 frames: fewer than SQLite's automatic checkpoint lets build up
WAL_HEADER, FRAME_HEADER = 32, 24
RAW = "raw cryptography: parse+verify+build+sign+PEM"
SERVICE = "portal issue_from_csr, 2 commits each"
KEY_TYPES = ("ec-p256", "rsa-2048")


def prepared_csrs(count: int) -> list[bytes]:
    """`count` distinct server CSRs (EC P-256 leaf keys), as PEM."""
    csrs = []
    for index in range(count):
        host = f"host{index}.bench.example.com"
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256())
        )
        csrs.append(csr.public_bytes(serialization.Encoding.PEM))
    return csrs


class RawIssuer:
    """What the service does, written with cryptography alone: the physical limit."""

    def __init__(self, ca_certificate: x509.Certificate, ca_key, crl_url: str, ca_url: str):
        self.issuer = ca_certificate.subject
        self.key = ca_key
        self.hash = None if isinstance(ca_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        self.aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        self.crl = x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)])
        self.aia = x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(ca_url))])
        self.usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)

    def issue(self, csr_pem: bytes) -> bytes:
        """Parse, verify, build, sign and serialise one certificate."""
        csr = x509.load_pem_x509_csr(csr_pem)
        if not csr.is_signature_valid:
            raise ValueError("bad CSR signature")
        public_key = csr.public_key()
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        now = datetime.now(UTC).replace(microsecond=0)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=397))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(self.usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(self.aki, critical=False)
            .add_extension(san, critical=False)
            .add_extension(self.crl, critical=False)
            .add_extension(self.aia, critical=False)
            .sign(self.key, self.hash)
        )
        return certificate.public_bytes(serialization.Encoding.PEM)


def wal_frames_per_certificate(csrs: list[bytes], ca_name: str) -> float | None:
    """WAL frames written per issuance of `csrs`, counted from an emptied WAL (SQLite only)."""
    if db.engine.dialect.name != "sqlite":
        return None
    wal = Path(f"{db.engine.url.database}-wal")
    with db.engine.connect() as connection:
        busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()[0]
        page_size = connection.exec_driver_sql("PRAGMA page_size").scalar()
    if busy:
        return None  # a reader kept the WAL: no clean start to count from
    for csr in csrs:
        issuance.issue_from_csr(csr, "server", ca_name=ca_name, actor="bench")
    frames = (wal.stat().st_size - WAL_HEADER) / (page_size + FRAME_HEADER)
    return frames / len(csrs)


def openssl_cost(folder: Path, ca_pem: bytes, key_pem: bytes, csrs: list[bytes],
                 crl_url: str, ca_url: str, count: int) -> float:
    """Seconds per certificate for `openssl x509 -req -CA` run as a subprocess."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("openssl is not installed")
    (folder / "ca.pem").write_bytes(ca_pem)
    (folder / "ca.key").write_bytes(key_pem)
    (folder / "ext.cnf").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
        "subjectAltName=DNS:host.bench.example.com\n"
        f"crlDistributionPoints=URI:{crl_url}\n"
        f"authorityInfoAccess=caIssuers;URI:{ca_url}\n"
    )
    paths = []
    for index, csr in enumerate(csrs[:count]):
        path = folder / f"{index}.csr"
        path.write_bytes(csr)
        paths.append(path)
    start = time.perf_counter()
    for path in paths:
        subprocess.run(
            [openssl, "x509", "-req", "-in", str(path), "-CA", str(folder / "ca.pem"),
             "-CAkey", str(folder / "ca.key"), "-set_serial", str(int.from_bytes(os.urandom(19))),
             "-days", "397", "-sha256", "-extfile", str(folder / "ext.cnf"),
             "-out", str(folder / "out.pem")],
            check=True, capture_output=True,
        )
    return (time.perf_counter() - start) / len(paths)


def measure(key_type: str, count: int, openssl_count: int, chunk: int) -> bool:
    """Set up a CA of `key_type` on a fresh instance and print the table for it."""
    folder = Path(tempfile.mkdtemp(prefix=f"portal-bench-{key_type}-"))
    instance = folder / "instance"
    instance.mkdir(mode=0o700)
    os.environ["PORTAL_INSTANCE"] = str(instance)
    app = create_app()
    try:
        with app.app_context():
            ensure_instance_secrets()
            database.upgrade()
            ca = authorities.create_ca(f"bench-{key_type}", key_type=key_type, actor="bench")
            ca_name = ca.name
            if os.environ.get("BENCH_OCSP_RESPONDER"):  # each issuance then pre-signs its OCSP
                from portal.services.ocsp_signing import issue_responder

                issue_responder(ca, actor="bench")
            ca_cert = authorities.ca_certificate(ca)
            ca_key = unseal_private_key(ca.key_encrypted, ca_secret(), bound_to=ca.certificate_der)
            urls = authorities.urls_for(ca)
            raw = RawIssuer(ca_cert, ca_key, urls.crl, urls.ca_issuers)
            csrs = prepared_csrs(count + WARM_UP + FRAMES_SAMPLE)
            sample, csrs = csrs[count + WARM_UP:], csrs[:count + WARM_UP]
            for csr in csrs[count:]:  # warm-up: first query, first signature, caches
                raw.issue(csr)
                issuance.issue_from_csr(csr, "server", ca_name=ca_name, actor="bench")
            # The machine's speed drifts (shared cores): interleave small chunks of each,
            # alternating which goes first, so that both see the same conditions.
            spent = {"raw": 0.0, "service": 0.0}
            cpu = {"raw": 0.0, "service": 0.0}  # this process's CPU time: less moved by others
            for index, first in enumerate(range(0, count, chunk)):
                batch = csrs[first:first + chunk]
                order = ("raw", "service") if index % 2 == 0 else ("service", "raw")
                for which in order:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    if which == "raw":
                        for csr in batch:
                            raw.issue(csr)
                    else:
                        for csr in batch:
                            issuance.issue_from_csr(csr, "server", ca_name=ca_name, actor="bench")
                    spent[which] += time.perf_counter() - start
                    cpu[which] += time.process_time() - start_cpu
            frames = wal_frames_per_certificate(sample, ca_name)
            db.session.remove()
            issued = db.session.query(Certificate).filter(
                Certificate.status == "issued", Certificate.profile != "ocsp").count()
            expected = count + WARM_UP + len(sample)
            assert issued == expected, f"{issued} rows issued, {expected} expected"
            key_pem = ca_key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
            ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
            per_cert = openssl_cost(folder, ca_pem, key_pem, csrs, urls.crl, urls.ca_issuers,
                                    openssl_count)
            db.session.remove()
            db.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    met = print_table(
        f"Issue from a CSR, {key_type} CA: {count} certificates each, interleaved in chunks "
        f"of {chunk}; openssl {openssl_count}; peak RSS {peak_rss_mb():.0f} MB",
        [
            (RAW, count / spent["raw"], "certs/s"),
            (SERVICE, count / spent["service"], "certs/s"),
            (f"openssl x509 -req -CA, subprocess, {per_cert * 1000:.1f} ms", 1 / per_cert,
             "certs/s"),
        ],
        baseline=RAW,
        targets={SERVICE: TARGET},
    )
    # Not the target (that is the rate above), but steadier on a shared machine: what each
    # spent of this process's CPU, waits for the disk and for other processes left out.
    print(f"CPU per certificate: raw {cpu['raw'] / count * 1e6:.0f} us, service "
          f"{cpu['service'] / count * 1e6:.0f} us, ratio {cpu['raw'] / cpu['service']:.3f}; "
          f"load average {os.getloadavg()[0]:.1f}")
    if frames is not None:
        print(f"WAL frames per certificate: {frames:.1f} ({FRAMES_SAMPLE} issuances after an "
              "emptied WAL)")
    return met


def main() -> int:
    """Run the measurement for each CA key type; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="certificates per CA")
    parser.add_argument("--chunk", type=int, default=50, help="certificates per interleaved chunk")
    parser.add_argument("--openssl-count", type=int, default=30)
    parser.add_argument("--key-type", action="append", choices=KEY_TYPES,
                        help="measure only this CA key type (repeatable; default: all)")
    args = parser.parse_args()
    for name in [name for name in os.environ if name.startswith("PORTAL_")]:
        del os.environ[name]  # never the operator's database, secret or public URL
    ok = True
    for key_type in args.key_type or KEY_TYPES:
        ok &= measure(key_type, args.count, args.openssl_count, args.chunk)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
