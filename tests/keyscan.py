"""Where a private key could hide: every stored value and file, decoded every way a key can be.

`places_holding_key` is run after every path that generates a key for someone (the admin page,
self-service, enrollment links, `portal cert generate`). It looks for the key itself, not for a
handful of literal encodings: each value (and each run of base64 or hex inside it, so a key
written into a JSON audit detail is found too) is decoded as base64, URL-safe base64, hex, PEM
and percent-encoding, recursively, and every result is searched for the key's secret numbers
and its DER encodings, and tried as a private key (PEM, DER, PKCS#8 encrypted with the .p12
password, PKCS#12 with or without it). The .p12 file itself and its password are searched for
as well: either one stored would give the key away.
"""

import base64
import binascii
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import inspect, text

# Runs of these characters long enough to hold a key's secret number (32 bytes) once decoded.
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_\-]{40,}={0,2}")
_HEX_RUN = re.compile(rb"(?:[0-9A-Fa-f]{2}[:\s]?){32,}")
_MAX_DEPTH = 3


def secret_forms(key) -> list[bytes]:
    """The byte strings whose presence gives the key away: its secret numbers and DER forms."""
    forms = [key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        forms.append(key.private_numbers().private_value.to_bytes(size, "big"))
        forms.append(key.private_bytes(serialization.Encoding.DER,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    elif isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        forms += [n.to_bytes((n.bit_length() + 7) // 8, "big")
                  for n in (numbers.d, numbers.p, numbers.q)]
        forms.append(key.private_bytes(serialization.Encoding.DER,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    elif isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        forms.append(key.private_bytes_raw())
    return forms


def _decodings(data: bytes, depth: int = 0) -> Iterator[bytes]:
    """`data` and everything it (or a run inside it) decodes to, a few layers deep."""
    yield data
    if depth >= _MAX_DEPTH:
        return
    found: list[bytes] = []
    if b"%" in data:
        found.append(urllib.parse.unquote_to_bytes(data))
    if b"-----BEGIN" in data:
        for block in re.findall(rb"-----BEGIN [^-]+-----(.*?)-----END", data, re.S):
            found.append(_b64(re.sub(rb"\s+", b"", block), base64.b64decode))
    for run in _BASE64_RUN.findall(data):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            found.append(_b64(run, decode))
    for run in _HEX_RUN.findall(data):
        try:
            found.append(binascii.unhexlify(re.sub(rb"[:\s]", b"", run)))
        except (ValueError, binascii.Error):
            pass
    for item in found:
        if item and item != data:
            yield from _decodings(item, depth + 1)


def _b64(run: bytes, decode) -> bytes:
    try:
        return decode(run + b"=" * (-len(run) % 4))
    except (ValueError, binascii.Error):
        return b""


def _opens(data: bytes, password: bytes | None) -> bool:
    loaders = [
        lambda: serialization.load_pem_private_key(data, password=None),
        lambda: serialization.load_der_private_key(data, password=None),
        lambda: pkcs12.load_key_and_certificates(data, None)[0],
    ]
    if password:
        loaders += [
            lambda: serialization.load_pem_private_key(data, password=password),
            lambda: serialization.load_der_private_key(data, password=password),
            lambda: pkcs12.load_key_and_certificates(data, password)[0],
        ]
    for load in loaders:
        try:
            if load() is not None:
                return True
        except Exception:  # noqa: BLE001 - what does not load is what we hope for
            continue
    return False


def reveals_key(data: bytes, key, *, p12: bytes | None = None,
                password: str | None = None) -> bool:
    """Whether these bytes, decoded in any way tried here, hold the key or what opens it."""
    forms = secret_forms(key)
    secret = password.encode() if password else None
    needles = forms + ([p12] if p12 else []) + ([secret] if secret and len(secret) >= 8 else [])
    for candidate in _decodings(data):
        if any(needle in candidate for needle in needles):
            return True
        if len(candidate) >= 32 and _opens(candidate, secret):
            return True
    return False


def stored_values(engine) -> Iterator[tuple[str, bytes]]:
    """(table.column, value as bytes) for every non-empty value of every table."""
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            result = connection.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for row in result:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, bytes | memoryview):
                        yield f"{table}.{column}", bytes(value)
                    elif value is not None:
                        yield f"{table}.{column}", str(value).encode()


def folder_files(folders: Iterable[Path]) -> Iterator[tuple[str, bytes]]:
    """(path, content) for every file below the folders (the SQLite files and WAL included)."""
    for top in folders:
        for folder, _dirs, names in os.walk(top):
            for name in names:
                path = Path(folder, name)
                yield str(path), path.read_bytes()


def places_holding_key(key, *, engine, folders: Iterable[Path] = (), p12: bytes | None = None,
                       password: str | None = None) -> list[str]:
    """Every stored value and file that reveals the key (an empty list is what we want)."""
    engine.dispose()  # SQLite: checkpoint the WAL, so the files hold every committed row
    places = [place for place, value in stored_values(engine)
              if reveals_key(value, key, p12=p12, password=password)]
    places += [path for path, content in folder_files(folders)
               if reveals_key(content, key, p12=p12, password=password)]
    return places
