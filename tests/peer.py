"""A TLS peer for the Flask test client: what a server's socket reports about its client."""

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


class PeerSocket:
    """Stands in for the TLS socket Werkzeug's server puts in `werkzeug.socket`."""

    def __init__(self, pem: str | bytes | None):
        self.der = (x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
                    .public_bytes(Encoding.DER) if pem else None)

    def getpeercert(self, binary_form: bool = False):
        """The peer certificate's DER (only the binary form is asked for)."""
        assert binary_form
        return self.der


def presenting(pem: str | bytes | None) -> dict:
    """The environ of a TLS connection whose client presented `pem` (None: nothing)."""
    return {"werkzeug.socket": PeerSocket(pem)}
