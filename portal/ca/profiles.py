"""Certificate profiles: each fixes the extensions, the names it accepts and its validity."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from ..errors import InvalidInput, PolicyViolation
from ..translatable import N_
from .names import check_dns_name, common_name_of, describe_general_name

# Certificates start a little in the past so that a client whose clock lags accepts them.
BACKDATE = timedelta(minutes=1)


@dataclass(frozen=True)
class Profile:
    """What one kind of certificate is for and what it may contain."""

    name: str
    description: str
    extended_key_usage: tuple[x509.ObjectIdentifier, ...]
    san_kinds: tuple[type, ...]
    requires_san: bool
    requires_common_name: bool
    is_ca: bool = False
    wildcards: bool = False  # whether a DNS name may start with `*.`


PROFILES = {
    "server": Profile(
        name="server",
        description="TLS server (serverAuth); DNS names and IP addresses",
        extended_key_usage=(ExtendedKeyUsageOID.SERVER_AUTH,),
        san_kinds=(x509.DNSName, x509.IPAddress),
        requires_san=True,
        requires_common_name=False,
        wildcards=True,
    ),
    "client": Profile(
        name="client",
        description="TLS client (clientAuth); a common name and an optional e-mail",
        extended_key_usage=(ExtendedKeyUsageOID.CLIENT_AUTH,),
        san_kinds=(x509.RFC822Name,),
        requires_san=False,
        requires_common_name=True,
    ),
    "ca": Profile(
        name="ca",
        description="intermediate certificate authority",
        extended_key_usage=(),
        san_kinds=(),
        requires_san=False,
        requires_common_name=True,
        is_ca=True,
    ),
}
LEAF_PROFILES = ("server", "client")
# A web server's own client certificate toward the portal, issued by `portal webserver-config`:
# on a connection that presents it, the portal believes the forwarded client certificate.
# Not in PROFILES: nobody requests one, and it never stands for a person at /ping.
PROXY_PROFILE = Profile(
    name="proxy",
    description="a reverse proxy's client certificate toward the portal (clientAuth)",
    extended_key_usage=(ExtendedKeyUsageOID.CLIENT_AUTH,),
    san_kinds=(),
    requires_san=False,
    requires_common_name=True,
)
# A CA's delegated OCSP responder (RFC 6960 4.2.2.2): OCSPSigning, and id-pkix-ocsp-nocheck
# so that clients do not ask about the responder's own status. Issued by the portal itself.
OCSP_PROFILE = Profile(
    name="ocsp",
    description="a CA's delegated OCSP responder (OCSPSigning, ocsp-nocheck)",
    extended_key_usage=(ExtendedKeyUsageOID.OCSP_SIGNING,),
    san_kinds=(),
    requires_san=False,
    requires_common_name=True,
)


@dataclass(frozen=True)
class PublicationUrls:
    """Where relying parties fetch the issuer's CRL and certificate (plain HTTP), and OCSP."""

    crl: str
    ca_issuers: str
    ocsp: str | None = None  # the issuer's OCSP responder; None leaves it out of AIA


def get_profile(name: str, *, leaf_only: bool = False) -> Profile:
    """Look up a profile by name."""
    names = LEAF_PROFILES if leaf_only else tuple(PROFILES)
    if name not in names:
        raise InvalidInput(
            N_("unknown profile %(name)r; choose one of %(values)s"), field="profile",
            name=name, values=', '.join(names)
        )
    return PROFILES[name]


def apply_profile(
    profile: Profile, subject: x509.Name, sans: tuple[x509.GeneralName, ...]
) -> tuple[x509.Name, tuple[x509.GeneralName, ...]]:
    """Check a subject and SANs against a profile; return the names the certificate will carry."""
    names = list(sans)
    common_name = common_name_of(subject)
    unusable_cn: PolicyViolation | None = None
    if profile.name == "server" and common_name and not names:
        # Clients match the SAN, not the CN: a CN that is a host name becomes the SAN.
        try:
            names.append(x509.DNSName(check_dns_name(common_name)))
        except PolicyViolation as exc:
            unusable_cn = exc
    seen: set[tuple[type, object]] = set()
    for name in names:
        if not isinstance(name, profile.san_kinds):
            allowed = ", ".join(kind.__name__ for kind in profile.san_kinds) or "none"
            raise PolicyViolation(
                N_("the %(name)s profile does not accept %(kind)s %(value)s (allowed: "
                   "%(allowed)s)"),
                field="sans",
                name=profile.name, kind=type(name).__name__, value=str(name.value)[:80],
                allowed=allowed,
            )
        if (
            isinstance(name, x509.DNSName)
            and name.value.startswith("*.")
            and not profile.wildcards
        ):
            raise PolicyViolation(
                N_("the %(name)s profile does not allow wildcards (%(value)s)"),
                field="sans",
                name=profile.name, value=name.value[:80],
            )
        # Each entry's syntax was checked where it was parsed (load_csr, parse_san); what a
        # check missed, the pre-signing lint refuses.
        value = name.value.lower() if isinstance(name, x509.DNSName) else name.value
        if (type(name), value) in seen:
            raise PolicyViolation(
                N_("the subject alternative name %(value)s is listed twice"),
                field="sans",
                value=describe_general_name(name)[:90],
            )
        seen.add((type(name), value))
    if profile.requires_san and not names:
        if unusable_cn is not None:  # say why the CN could not serve as the name
            raise PolicyViolation(
                N_("the %(name)s profile needs at least one DNS name or IP address; the "
                   "common name cannot be one: %(detail)s"),
                field="sans",
                name=profile.name, detail=unusable_cn.message,
            )
        raise PolicyViolation(
            N_("the %(name)s profile needs at least one DNS name or IP address"),
            field="sans",
            name=profile.name,
        )
    if profile.requires_common_name and not common_name:
        raise PolicyViolation(
            N_("the %(name)s profile needs a common name (CN)"), field="subject",
            name=profile.name
        )
    return subject, tuple(names)


def key_usage_for(profile: Profile, public_key) -> x509.KeyUsage:
    """The keyUsage right for the profile and the subject's key type."""
    rsa_server = isinstance(public_key, rsa.RSAPublicKey) and profile.name == "server"
    return _key_usage(profile.is_ca, rsa_server)


# Extension values are immutable: those that depend only on the profile or the issuer's URLs
# are built once and shared by every certificate (building them cost more than signing's
# Python side).
@lru_cache(maxsize=8)
def _key_usage(is_ca: bool, key_encipherment: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not is_ca,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )


@lru_cache(maxsize=8)
def _extended_key_usage(usages: tuple[x509.ObjectIdentifier, ...]) -> x509.ExtendedKeyUsage:
    return x509.ExtendedKeyUsage(list(usages))


@lru_cache(maxsize=256)
def _publication_extensions(
    urls: PublicationUrls,
) -> tuple[x509.CRLDistributionPoints, x509.AuthorityInformationAccess]:
    point = x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(urls.crl)],
        relative_name=None,
        reasons=None,
        crl_issuer=None,
    )
    access = [x509.AccessDescription(
        AuthorityInformationAccessOID.CA_ISSUERS,
        x509.UniformResourceIdentifier(urls.ca_issuers),
    )]
    if urls.ocsp:  # after caIssuers, which is where it always was
        access.append(x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)
        ))
    return x509.CRLDistributionPoints([point]), x509.AuthorityInformationAccess(access)


def validity_window(
    now: datetime, days: int, *, ca_not_after: datetime | None
) -> tuple[datetime, datetime]:
    """The validity window: `days` days from now, never past the issuing CA's notAfter."""
    if days < 1:
        raise InvalidInput(N_("the validity must be at least one day"), field="days")
    not_before = now.replace(microsecond=0) - BACKDATE
    not_after = now.replace(microsecond=0) + timedelta(days=days)
    if ca_not_after is not None and not_after > ca_not_after:
        not_after = ca_not_after
    if not_after <= now:
        raise PolicyViolation(N_("the issuing CA has expired"), field="ca")
    return not_before, not_after


def leaf_extensions(
    profile: Profile,
    public_key,
    *,
    issuer_key_identifier: x509.AuthorityKeyIdentifier,
    subject: x509.Name,
    sans: tuple[x509.GeneralName, ...],
    urls: PublicationUrls | None,
    path_length: int | None = None,
) -> list[tuple[x509.ExtensionType, bool]]:
    """The extensions (value, critical) a certificate of this profile carries."""
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=profile.is_ca, path_length=path_length), True),
        (key_usage_for(profile, public_key), True),
    ]
    if profile.extended_key_usage:
        extensions.append((_extended_key_usage(profile.extended_key_usage), False))
    extensions.append((x509.SubjectKeyIdentifier.from_public_key(public_key), False))
    extensions.append((issuer_key_identifier, False))
    if profile.name == OCSP_PROFILE.name:
        extensions.append((x509.OCSPNoCheck(), False))
    if sans:
        # RFC 5280 4.2.1.6: with an empty subject the SAN extension must be critical.
        extensions.append((x509.SubjectAlternativeName(list(sans)), len(subject) == 0))
    if urls is not None:
        distribution_points, access = _publication_extensions(urls)
        extensions.append((distribution_points, False))
        extensions.append((access, False))
    return extensions
