"""Profile policies: which names a user may request under each profile, and who approves.

A profile without a stored row has its default: the client profile is open to users for a
certificate whose CN is their user name and whose only subjectAltName is their own e-mail, and
each request waits for an admin; the server profile is closed to users. Admins change a policy
on the policies page; the request services call `check_names` before anything is recorded.
"""

import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from ..ca.names import check_dns_name, check_email, describe_general_name
from ..ca.profiles import LEAF_PROFILES, get_profile
from ..errors import InvalidInput, PolicyViolation
from ..extensions import db
from ..models import ProfilePolicy, User, utcnow
from ..translatable import N_
from . import audit

CN_USERNAME, CN_ANY = "username", "any"
EMAIL_OWN, EMAIL_NONE = "own", "none"
COMMON_NAME_RULES = (CN_USERNAME, CN_ANY)
EMAIL_RULES = (EMAIL_OWN, EMAIL_NONE)
MAX_LIST_ITEMS = 50


@dataclass(frozen=True)
class Policy:
    """One profile's self-service rules, as plain values."""

    profile: str
    self_service: bool
    auto_issue: bool
    common_name_rule: str
    email_rule: str
    dns_suffixes: tuple[str, ...] = ()
    ip_networks: tuple[str, ...] = ()
    max_days: int | None = None
    updated_by: str | None = None

    @property
    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The IP networks as objects."""
        return [ipaddress.ip_network(text, strict=False) for text in self.ip_networks]


DEFAULTS = {
    "client": Policy("client", self_service=True, auto_issue=False,
                     common_name_rule=CN_USERNAME, email_rule=EMAIL_OWN),
    "server": Policy("server", self_service=False, auto_issue=False,
                     common_name_rule=CN_ANY, email_rule=EMAIL_NONE),
}


def _split(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in (text or "").replace("\n", ",").split(",")
                 if item.strip())


def _from_row(row: ProfilePolicy) -> Policy:
    return Policy(
        profile=row.profile, self_service=row.self_service, auto_issue=row.auto_issue,
        common_name_rule=row.common_name_rule, email_rule=row.email_rule,
        dns_suffixes=_split(row.dns_suffixes), ip_networks=_split(row.ip_networks),
        max_days=row.max_days, updated_by=row.updated_by,
    )


def get_policy(profile_name: str) -> Policy:
    """The policy of a leaf profile: its stored row, or the default."""
    get_profile(profile_name, leaf_only=True)
    row = db.session.scalar(select(ProfilePolicy).filter_by(profile=profile_name))
    return _from_row(row) if row else DEFAULTS[profile_name]


def list_policies() -> list[Policy]:
    """Every leaf profile's policy, the client profile (people's certificates) first."""
    return [get_policy(name) for name in sorted(LEAF_PROFILES, key=lambda n: n != "client")]


def open_profiles() -> list[str]:
    """The profiles users may request."""
    return [policy.profile for policy in list_policies() if policy.self_service]


def _check_suffixes(text: str) -> str:
    items = _split(text)
    if len(items) > MAX_LIST_ITEMS:
        raise InvalidInput(N_("at most %(max_list_items)s domains"), field="dns_suffixes",
            max_list_items=MAX_LIST_ITEMS)
    try:
        checked = [check_dns_name(item.lstrip("."), allow_wildcard=False) for item in items]
    except PolicyViolation as exc:
        raise PolicyViolation(exc.msgid, field="dns_suffixes", **exc.params) from None
    return ", ".join(dict.fromkeys(checked))


def _check_networks(text: str) -> str:
    items = _split(text)
    if len(items) > MAX_LIST_ITEMS:
        raise InvalidInput(N_("at most %(max_list_items)s networks"), field="ip_networks",
            max_list_items=MAX_LIST_ITEMS)
    networks = []
    for item in items:
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise InvalidInput(N_("%(item)r is not an IP network such as 192.0.2.0/24"),
                               field="ip_networks",
                item=item[:60]) from None
    return ", ".join(dict.fromkeys(networks))


def set_policy(
    profile_name: str,
    *,
    self_service: bool,
    auto_issue: bool,
    common_name_rule: str,
    email_rule: str,
    dns_suffixes: str = "",
    ip_networks: str = "",
    max_days: int | None = None,
    actor: str,
) -> Policy:
    """Store a profile's policy (checked first); it applies to the next request."""
    get_profile(profile_name, leaf_only=True)
    if common_name_rule not in COMMON_NAME_RULES:
        raise InvalidInput(N_("choose a common name rule"), field="common_name_rule")
    if email_rule not in EMAIL_RULES:
        raise InvalidInput(N_("choose an e-mail rule"), field="email_rule")
    if max_days is not None and not 1 <= max_days <= 20000:
        raise InvalidInput(N_("the validity cap is 1 to 20000 days"), field="max_days")
    suffixes, networks = _check_suffixes(dns_suffixes), _check_networks(ip_networks)
    row = db.session.scalar(select(ProfilePolicy).filter_by(profile=profile_name))
    if row is None:
        row = ProfilePolicy(profile=profile_name)
        db.session.add(row)
    row.self_service, row.auto_issue = bool(self_service), bool(auto_issue)
    row.common_name_rule, row.email_rule = common_name_rule, email_rule
    row.dns_suffixes, row.ip_networks, row.max_days = suffixes, networks, max_days
    row.updated_at, row.updated_by = utcnow(), actor[:128]
    audit.record(
        "policy.update", actor=actor,
        detail=f"{profile_name}: self-service {'on' if self_service else 'off'}, "
               f"{'issued at once' if auto_issue else 'admin approval'}, CN {common_name_rule}, "
               f"e-mail {email_rule}, DNS [{suffixes}], IP [{networks}], max days {max_days}",
    )
    db.session.commit()
    return _from_row(row)


def _under(name: str, suffix: str) -> bool:
    name = name.removeprefix("*.")
    return name == suffix or name.endswith("." + suffix)


def _check_san(policy: Policy, user: User, name: x509.GeneralName) -> None:
    shown = describe_general_name(name)
    if isinstance(name, x509.RFC822Name):
        if policy.email_rule == EMAIL_NONE:
            raise PolicyViolation(N_("%(profile)s certificates carry no e-mail address"),
                                  field="email",
                profile=policy.profile)
        try:
            own = check_email(user.email) if user.email else None
        except PolicyViolation:  # an address stored before addresses were checked
            own = None
        if own is None:
            raise PolicyViolation(N_("your account has no e-mail address: ask an admin to add it"),
                                  field="email")
        if check_email(name.value).lower() != own.lower():
            raise PolicyViolation(N_("only your own e-mail address (%(own)s) is allowed"),
                                  field="email",
                own=own)
    elif isinstance(name, x509.DNSName):
        if not any(_under(name.value, suffix) for suffix in policy.dns_suffixes):
            allowed = ", ".join(policy.dns_suffixes) or "none"
            raise PolicyViolation(N_("%(shown)s is not allowed (domains allowed: %(allowed)s)"),
                                  field="sans",
                shown=shown, allowed=allowed)
    elif isinstance(name, x509.IPAddress):
        if not any(name.value in network for network in policy.networks):
            allowed = ", ".join(policy.ip_networks) or "none"
            raise PolicyViolation(N_("%(shown)s is not allowed (networks allowed: %(allowed)s)"),
                                  field="sans",
                shown=shown, allowed=allowed)
    else:
        raise PolicyViolation(N_("%(shown)s is not allowed"), field="sans",
            shown=shown)


def check_names(
    policy: Policy,
    user: User,
    subject: x509.Name,
    sans: tuple[x509.GeneralName, ...],
    *,
    days: int | None = None,
) -> None:
    """Refuse a request the policy does not allow; the error names the field it concerns."""
    if not policy.self_service:
        raise PolicyViolation(
            N_("%(profile)s certificates are not open to requests: ask an admin"),
            field="profile",
            profile=policy.profile,
        )
    for attribute in subject:
        if attribute.oid != NameOID.COMMON_NAME:
            label = attribute.rfc4514_string().split("=", 1)[0]
            raise PolicyViolation(
                N_("the subject may hold only a common name (CN), not %(label)s"), field="subject",
                label=label
            )
    common_names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(common_names) > 1:
        raise PolicyViolation(N_("the subject may hold one common name only"), field="common_name")
    common_name = str(common_names[0].value) if common_names else None
    if policy.common_name_rule == CN_USERNAME and common_name != user.username:
        raise PolicyViolation(N_("the common name must be your user name, %(username)s"),
                              field="common_name",
            username=user.username)
    for name in sans:
        _check_san(policy, user, name)
    if days is not None and policy.max_days is not None and days > policy.max_days:
        raise PolicyViolation(N_("at most %(max_days)s days for %(profile)s requests"),
                              field="days",
            max_days=policy.max_days, profile=policy.profile)
