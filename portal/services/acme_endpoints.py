"""ACME endpoints: created and disabled by admins, looked up by every ACME request."""

import functools
import re

from sqlalchemy import select

from ..acme.identifiers import NamePolicy, parse_network, parse_suffix
from ..acme.problems import AcmeProblem
from ..acme_models import AcmeEndpoint
from ..ca.profiles import get_profile
from ..errors import Conflict, NotFound, PolicyViolation
from ..extensions import db
from ..models import CertificateAuthority
from ..translatable import N_
from . import audit
from .acme_rows import EndpointRow, endpoint_named
from .authorities import get_ca

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
DEFAULT_DAYS = 90


def check_endpoint_name(name: str) -> str:
    """An endpoint name: lower-case letters, digits, - and _, as it appears in the URL."""
    if not _NAME.fullmatch(name or ""):
        raise PolicyViolation(
            N_("an ACME endpoint name is 1-64 lower-case letters, digits, - or _"), field="name"
        )
    return name


def create_endpoint(
    name: str, *, ca_name: str | None, profile: str = "server", domains=(), networks=(),
    days: int = DEFAULT_DAYS, eab_required: bool = False, actor: str,
) -> AcmeEndpoint:
    """Create an endpoint that issues from `ca_name` with `profile` for the given names."""
    check_endpoint_name(name)
    if db.session.scalar(select(AcmeEndpoint.id).filter_by(name=name)) is not None:
        raise Conflict(N_("an ACME endpoint named %(name)r exists already"), field="name",
            name=name)
    if get_profile(profile, leaf_only=True).name != "server":
        raise PolicyViolation(N_("ACME endpoints issue with the server profile"), field="profile")
    suffixes = sorted({parse_suffix(text) for text in domains if text.strip()})
    nets = sorted({str(parse_network(text)) for text in networks if text.strip()})
    if not suffixes and not nets:
        raise PolicyViolation(N_("give at least one --domain or --network the endpoint may "
                                 "issue for"), field="domain")
    if not 1 <= days <= 825:
        raise PolicyViolation(N_("--days must be between 1 and 825"), field="days")
    ca = get_ca(ca_name)
    endpoint = AcmeEndpoint(
        name=name, ca_id=ca.id, profile=profile, domains=",".join(suffixes),
        networks=",".join(nets), days=days, eab_required=eab_required, enabled=True,
    )
    db.session.add(endpoint)
    audit.record("acme.endpoint.create", actor=actor, detail=(
        f"{name} ca={ca.name} profile={profile} domains={endpoint.domains} "
        f"networks={endpoint.networks} days={days} eab={eab_required}"))
    db.session.commit()
    return endpoint


def list_endpoints() -> list[AcmeEndpoint]:
    """Every endpoint, by name."""
    return list(db.session.scalars(select(AcmeEndpoint).order_by(AcmeEndpoint.name)))


def set_enabled(name: str, enabled: bool, *, actor: str) -> AcmeEndpoint:
    """Disable (or enable again) an endpoint: a disabled one answers 404 to everything."""
    endpoint = db.session.scalar(select(AcmeEndpoint).filter_by(name=name))
    if endpoint is None:
        raise NotFound(N_("no ACME endpoint named %(name)r"), field="name",
            name=name[:64])
    endpoint.enabled = enabled
    audit.record("acme.endpoint.enable" if enabled else "acme.endpoint.disable", actor=actor,
                 detail=name)
    db.session.commit()
    return endpoint


def serving_endpoint(name: str) -> EndpointRow:
    """The enabled endpoint named `name`, read now, for a protocol request; 404 otherwise."""
    endpoint = endpoint_named(name)
    if endpoint is None:
        raise AcmeProblem("malformed", "no such ACME directory", status=404)
    return endpoint


def name_policy(endpoint: AcmeEndpoint | EndpointRow) -> NamePolicy:
    """The names `endpoint` may issue for (parsed once per process for each stored text)."""
    return _policy(endpoint.domains, endpoint.networks)


@functools.lru_cache(maxsize=256)
def _policy(domains: str, networks: str) -> NamePolicy:
    return NamePolicy(
        suffixes=tuple(s for s in domains.split(",") if s),
        networks=tuple(parse_network(n) for n in networks.split(",") if n),
    )


def ca_name_of(endpoint: AcmeEndpoint) -> str:
    """The name of the CA the endpoint issues from."""
    return db.session.get(CertificateAuthority, endpoint.ca_id).name
