"""Each kind of error answers the HTTP status it always had, now that web/errors.py says which."""

import pytest

from portal import errors
from portal.ca.lint import LintRefused
from portal.services.approval_expiry import ApprovalExpired
from portal.services.enrollment import LinkRefused
from portal.services.mailer import MailError, RecipientsRefused
from portal.web.errors import Unauthorized, UnsupportedMediaType, status_of

# The statuses the errors carried themselves before (status_code), written out.
STATUS_BEFORE = [
    (errors.PortalError, 400), (errors.InvalidInput, 400), (errors.PolicyViolation, 400),
    (errors.ConfigurationError, 400), (LintRefused, 400), (Unauthorized, 401),
    (errors.ClientCertificateMissing, 401), (errors.NotPermitted, 403),
    (errors.ClientCertificateRefused, 403), (errors.NotFound, 404), (errors.Conflict, 409),
    (errors.CAUnusable, 409), (ApprovalExpired, 410), (LinkRefused, 410),
    (UnsupportedMediaType, 415), (errors.CAKeyUnavailable, 503), (MailError, 503),
    (RecipientsRefused, 503),
]


@pytest.mark.parametrize(("kind", "status"), STATUS_BEFORE, ids=lambda value: getattr(
    value, "__name__", str(value)))
def test_each_kind_of_error_keeps_its_status(kind, status):
    error = kind("refused", field="x")
    assert status_of(error) == status


def test_an_error_kind_of_its_own_is_a_400():
    class Odd(errors.PortalError):
        """A service's own kind, mapped nowhere."""

    assert status_of(Odd("odd")) == 400
