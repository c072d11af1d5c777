"""`portal acme create|list|disable|enable` and `portal acme eab create`."""

from portal.acme_models import AcmeEabKey
from portal.extensions import db


def test_create_list_disable_enable(runner, root_ca):
    made = runner.invoke(args=["acme", "create", "corp", "--ca", "root", "--domain",
                               "corp.example", "--network", "10.0.0.0/8", "--days", "30",
                               "--eab-required"])
    assert made.exit_code == 0, made.output
    assert made.output == "created ACME endpoint corp: /acme/corp/directory\n"
    listed = runner.invoke(args=["acme", "list"]).output
    assert listed == ("corp\tenabled\tca=root\tprofile=server\tdays=30\teab=required\t"
                      "domains=corp.example\tnetworks=10.0.0.0/8\n")
    assert runner.invoke(args=["acme", "disable", "corp"]).exit_code == 0
    assert "\tdisabled\t" in runner.invoke(args=["acme", "list"]).output
    assert runner.invoke(args=["acme", "enable", "corp"]).exit_code == 0


def test_bad_input_is_one_error_line(runner, root_ca):
    for args, words in (
        (["acme", "create", "Bad Name", "--domain", "a.example"], "lower-case"),
        (["acme", "create", "x", "--domain", "localhost"], "single label"),
        (["acme", "create", "x", "--network", "10.0.0.1/8"], "not an IP network"),
        (["acme", "create", "x"], "at least one --domain"),
        (["acme", "create", "x", "--domain", "a.example", "--days", "0"], "--days"),
        (["acme", "create", "x", "--domain", "a.example", "--ca", "nope"], "nope"),
        (["acme", "disable", "nope"], "no ACME endpoint"),
        (["acme", "eab", "create", "nobody"], "no user named"),
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert words in result.output and len(result.output.strip().splitlines()) == 1


def test_an_eab_key_is_printed_once_and_stored_sealed(runner, root_ca):
    from portal.services.users import create_user

    create_user("alice", role="user", password="alice-password-0123", actor="t")
    result = runner.invoke(args=["acme", "eab", "create", "alice"])
    assert result.exit_code == 0, result.output
    key_id = result.output.splitlines()[0].split(": ")[1]
    hmac_key = result.output.splitlines()[1].split(": ")[1]
    row = db.session.query(AcmeEabKey).filter_by(key_id=key_id).one()
    import josepy as jose

    assert jose.b64decode(hmac_key) not in row.hmac_sealed
    assert row.hmac_sealed.startswith(b"portal-acme-eab-v1:")
