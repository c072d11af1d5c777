"""Serial numbers: random, 159 bits, written as hex text the way openssl prints them."""

import secrets

from ..errors import InvalidInput
from ..translatable import N_

SERIAL_BITS = 159


def random_serial() -> int:
    """A random positive serial of up to 159 bits (fits the 20 octets RFC 5280 allows)."""
    while True:
        serial = secrets.randbits(SERIAL_BITS)
        if serial.bit_length() > 64:  # zero or tiny values are possible, just never useful
            return serial


def serial_to_hex(serial: int) -> str:
    """Upper-case hex with an even number of digits, as `openssl x509 -serial` prints it."""
    text = format(serial, "X")
    return text if len(text) % 2 == 0 else "0" + text


def normalize_serial(text: str) -> str:
    """Accept a serial as typed or pasted (colons, spaces, 0x, any case); canonical hex."""
    cleaned = text.strip()
    if cleaned.lower().startswith("serial="):
        cleaned = cleaned[7:]
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    cleaned = cleaned.replace(":", "").replace(" ", "")
    if not cleaned or len(cleaned) > 42 or any(c not in "0123456789abcdefABCDEF" for c in cleaned):
        raise InvalidInput(N_("not a serial number: %(text)r (expected hex)"), field="serial",
            text=text[:60])
    return serial_to_hex(int(cleaned, 16))
