"""Write the hostile-input corpus: CSRs and request bodies the portal must refuse with a 4xx.

Run `python tests/data/hostile/make_corpus.py` to regenerate the files beside this script and
manifest.json, which says for each file what it is, whether it is a CSR (sent through the
web form, the API and the CLI) or a raw API body (sent with the content type given), and why
it must be refused. Keys are fresh on each run, so the files change; what they test does not.
"""

import ipaddress
import json
import random
import sys
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
CASES: list[dict] = []


def name(cn: str | None = "hostile.example.com", *extra: x509.NameAttribute) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)] if cn else []
    return x509.Name([*attributes, *extra])


SHA256 = hashes.SHA256()


def csr(subject=None, sans=None, key=None, algorithm=SHA256) -> bytes:
    """A DER CSR; by default a well-formed server request for hostile.example.com."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject or name())
    sans = [x509.DNSName("hostile.example.com")] if sans is None else sans
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.DER)


def pem(der: bytes, label: str = "CERTIFICATE REQUEST") -> bytes:
    import base64
    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"".join([f"-----BEGIN {label}-----\n".encode(), *[line + b"\n" for line in lines],
                     f"-----END {label}-----\n".encode()])


def add(file: str, data: bytes, why: str, *, kind: str = "csr",
        content_type: str = "application/json", repeat: int = 1) -> None:
    (HERE / file).write_bytes(data)
    case = {"file": file, "kind": kind, "why": why}
    if kind == "body":
        case["content_type"] = content_type
    if repeat > 1:
        case["repeat"] = repeat
    CASES.append(case)


def raw_sans(texts: list[str]) -> list[x509.GeneralName]:
    return [x509.DNSName._init_without_validation(text) for text in texts]


def csr_cases(rng: random.Random) -> None:
    good = csr()
    add("empty.csr", b"", "an empty file")
    add("whitespace.csr", b" \n\t\r\n  \n", "only white space")
    add("garbage-1k.bin", rng.randbytes(1024), "random bytes")
    add("garbage-60k.bin", rng.randbytes(60_000), "random bytes just under the size limit")
    add("nul-bytes.bin", b"\x00" * 4096, "NUL bytes only")
    add("text.txt", b"Hello, please sign my certificate. Thanks!\n" * 20, "prose, not a CSR")
    add("pem-truncated.csr", pem(good)[: len(pem(good)) // 2], "a PEM cut in half")
    add("pem-no-end.csr", pem(good).rsplit(b"-----END", 1)[0], "a PEM without its END line")
    add("pem-bad-base64.csr", pem(good).replace(b"M", b"!", 3), "a PEM whose base64 is broken")
    add("pem-empty-body.csr", b"-----BEGIN CERTIFICATE REQUEST-----\n"
        b"-----END CERTIFICATE REQUEST-----\n", "a PEM with nothing inside")
    cert_key = ec.generate_private_key(ec.SECP256R1())
    import datetime
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name()).issuer_name(name())
                   .public_key(cert_key.public_key()).serial_number(1).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(cert_key,
                                                                           hashes.SHA256()))
    add("pem-certificate.pem", certificate.public_bytes(serialization.Encoding.PEM),
        "a certificate, not a request")
    add("pem-private-key.pem", cert_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), "a private key pasted by mistake")
    add("pem-utf16.csr", pem(good).decode().encode("utf-16"), "a PEM saved as UTF-16")
    add("der-truncated.der", good[: len(good) - 20], "DER cut short")
    add("der-trailing-garbage.der", good + b"\x00garbage", "DER followed by extra bytes")
    add("der-huge-length.der", b"\x30\x84\x7f\xff\xff\xff" + good[4:], "a length of 2 GB")
    add("der-deep-nesting.der", b"\x30\x80" * 20_000, "20,000 nested indefinite SEQUENCEs")
    versioned = bytearray(good)
    versioned[good.index(b"\x02\x01\x00") + 2] = 1  # the first INTEGER 0 is the version
    add("der-version-2.der", bytes(versioned), "a CSR version other than v1 (0)")
    tampered = bytearray(good)
    at = good.index(b"hostile")
    tampered[at] = ord("H")
    add("bad-signature-subject.der", bytes(tampered), "subject altered after signing")
    zeroed = bytearray(good)
    zeroed[-8:] = b"\x01" * 8
    add("bad-signature-bits.der", bytes(zeroed), "signature bytes overwritten")
    add("rsa-1024.csr", pem(csr(key=rsa.generate_private_key(65537, 1024))), "RSA-1024")
    add("rsa-e3.csr", pem(csr(key=rsa.generate_private_key(3, 2048))), "RSA with exponent 3")
    add("dsa-2048.csr", pem(csr(key=dsa.generate_private_key(2048))), "a DSA key")
    for curve in (ec.SECP192R1(), ec.SECP224R1(), ec.SECP256K1(), ec.BrainpoolP256R1()):
        try:
            key = ec.generate_private_key(curve)
        except Exception:  # this OpenSSL lacks the curve: nothing to test
            continue
        add(f"ec-{curve.name}.csr", pem(csr(key=key)), f"EC key on {curve.name}")
    add("ed448.csr", pem(csr(key=ed448.Ed448PrivateKey.generate(), algorithm=None)),
        "an Ed448 key")
    add("sans-10000.csr", pem(csr(sans=raw_sans([f"h{i}.x.io" for i in range(10_000)]))),
        "10,000 SANs (larger than the size limit)")
    add("sans-101.csr", pem(csr(sans=raw_sans([f"h{i}.example.com" for i in range(101)]))),
        "101 SANs (one over the limit)")
    add("subject-cn-10000.csr", pem(csr(subject=name("a" * 10_000))),
        "a 10,000-character common name")
    ous = [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"unit {i} " + "u" * 50)
           for i in range(200)]
    add("subject-200-ous.csr", pem(csr(subject=name("hostile.example.com", *ous))),
        "200 OU attributes of 60 characters (over the size limit)")
    for file, cn, why in (
        ("cn-nul.csr", "evil\x00.example.com", "a NUL byte in the CN"),
        ("cn-ansi.csr", "\x1b[31mred\x1b[0m", "terminal escape codes in the CN"),
        ("cn-html.csr", "<script>alert(1)</script>", "HTML in the CN"),
        ("cn-newline.csr", "line\nbreak", "a newline in the CN"),
        ("cn-u2028.csr", "line\u2028separator", "a Unicode line separator in the CN"),
        ("cn-padded.csr", " padded ", "white space around the CN"),
    ):
        add(file, pem(csr(subject=name(cn))), why)
    for file, sans, why in (
        ("san-html.csr", raw_sans(["<b>x</b>.example.com"]), "HTML in a DNS SAN"),
        ("san-nul.csr", raw_sans(["a\x00b.example.com"]), "a NUL in a DNS SAN"),
        ("san-idn-unicode.csr", raw_sans(["bücher.example"]), "an IDN not in xn-- form"),
        ("san-rtl-override.csr", raw_sans(["\u202emoc.example.com"]),
         "a right-to-left override in a DNS SAN"),
        ("san-wildcard-tld.csr", raw_sans(["*.com"]), "a wildcard for a whole TLD"),
        ("san-single-label.csr", raw_sans(["intranet"]), "a single-label DNS name"),
        ("san-long-label.csr", raw_sans(["a" * 64 + ".example.com"]), "a 64-character label"),
        ("san-underscore.csr", raw_sans(["_dmarc.example.com"]), "an underscore in a host"),
        ("san-uri.csr", [x509.UniformResourceIdentifier("https://evil.example.com/")],
         "a URI SAN"),
        ("san-dirname.csr", [x509.DirectoryName(name("ca"))], "a directoryName SAN"),
        ("san-email-bad.csr", [x509.RFC822Name("not an address")], "a malformed e-mail SAN"),
        ("san-email-long.csr", [x509.RFC822Name("l" * 64 + "@" + ".".join(["d" * 63] * 3)
                                                + ".example.com")],
         "a 269-character e-mail SAN (over RFC 5321's 254)"),
    ):
        add(file, pem(csr(sans=sans)), why)
    add("san-none-server.csr", pem(csr(subject=name("John Smith"), sans=[])),
        "a server request without a SAN whose CN is not a host name")
    add("subject-uid.csr", pem(csr(subject=name("hostile.example.com", x509.NameAttribute(
        NameOID.USER_ID, "root")))), "a subject attribute the portal does not allow")
    add("subject-country.csr", pem(csr(subject=name("hostile.example.com", x509.NameAttribute(
        NameOID.COUNTRY_NAME, "USA", _validate=False)))), "a three-letter country")
    add("subject-email.csr", pem(csr(subject=name("hostile.example.com", x509.NameAttribute(
        NameOID.EMAIL_ADDRESS, "<x>@example.com")))), "markup in a subject e-mail")
    add("san-ip-and-garbage.csr", pem(csr(sans=[
        x509.IPAddress(ipaddress.ip_address("192.0.2.1")), x509.DNSName("bad name.com")])),
        "a good IP SAN beside a DNS SAN with a space")


def body_cases(rng: random.Random) -> None:
    good = pem(csr()).decode()
    add("body-oversize.json", b"A" * 1024, "a 2 MB body (this 1 KB file sent 2,000 times)",
        kind="body", repeat=2000)
    add("body-text-plain.txt", json.dumps({"csr": good, "profile": "server"}).encode(),
        "JSON sent as text/plain", kind="body", content_type="text/plain")
    add("body-form.txt", b"csr=x&profile=server", "a form post, not JSON", kind="body",
        content_type="application/x-www-form-urlencoded")
    add("body-multipart.txt", b"--b\r\nContent-Disposition: form-data; name=\"csr\"\r\n\r\nx\r\n"
        b"--b--\r\n", "multipart", kind="body", content_type="multipart/form-data; boundary=b")
    add("body-deep.json", b"[" * 10_000 + b"]" * 10_000, "JSON nested 10,000 deep",
        kind="body")
    add("body-not-utf8.json", b'{"csr": "\xff\xfe", "profile": "server"}', "not UTF-8",
        kind="body")
    add("body-nul-profile.json", json.dumps({"csr": good, "profile": "server\x00"}).encode(),
        "a NUL in the profile", kind="body")
    add("body-array.json", json.dumps([good, "server"]).encode(), "a JSON array", kind="body")
    add("body-null-csr.json", b'{"csr": null, "profile": "server"}', "csr is null", kind="body")
    add("body-days-huge.json", json.dumps({"csr": good, "profile": "server",
                                           "days": 10**30}).encode(),
        "an absurd validity", kind="body")
    add("body-profile-ca.json", json.dumps({"csr": good, "profile": "ca"}).encode(),
        "asks for a CA certificate", kind="body")
    add("body-extra-field.json", json.dumps({"csr": good, "profile": "server",
                                             "is_ca": True}).encode(),
        "an unknown field", kind="body")
    add("body-duplicate-keys.json", b'{"csr": "x", "profile": "server", "csr": 1}',
        "duplicate keys, the last one not a string", kind="body")
    add("body-garbage.bin", rng.randbytes(2048), "random bytes labelled JSON", kind="body")


def main() -> int:
    warnings.simplefilter("ignore")  # cryptography warns about the over-long names made here
    rng = random.Random(7)
    for old in HERE.iterdir():
        if old.name not in ("make_corpus.py", "README.md"):
            old.unlink()
    csr_cases(rng)
    body_cases(rng)
    (HERE / "manifest.json").write_text(json.dumps({"cases": CASES}, indent=1) + "\n")
    print(f"{len(CASES)} cases written to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
