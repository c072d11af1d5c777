"""`portal webserver-config apache-wsgi`: the mod_wsgi site, its daemon account and module.

The real Apache running the printed site is in tests/e2e/test_apache_wsgi.py.
"""

import os
import pwd
import sys
from pathlib import Path

import portal
from portal.models import Certificate


def configure(runner, *extra: str):
    """`portal webserver-config apache-wsgi` as a user runs it."""
    return runner.invoke(args=["webserver-config", "apache-wsgi", *extra])


def test_the_site_runs_this_virtualenv_and_needs_no_proxy_certificate(runner, root_ca,
                                                                      instance):
    result = configure(runner, "--server-name", "localhost")
    assert result.exit_code == 0, result.output
    site = result.stdout
    wsgi = Path(portal.__file__).parent / "wsgi.py"
    assert f"python-home={sys.prefix} home={instance} " in site
    assert f"WSGIScriptAlias / {wsgi}\n" in site
    assert f"SetEnv PORTAL_INSTANCE {instance}\n" in site
    assert f"SSLCertificateFile    {instance / 'server.crt'}" in site
    assert f"SSLCARevocationFile   {instance / 'crl.pem'}" in site
    assert site.count("<VirtualHost *:443>") == 1 and site.count("<VirtualHost *:80>") == 1
    assert "LoadModule wsgi_module" in site  # mod_wsgi is installed in the test virtualenv
    assert "Proxy" not in site and not (instance / "proxy-client.crt").exists()
    assert Certificate.query.filter_by(profile="proxy").count() == 0


def test_the_daemon_runs_as_the_instance_owner_or_as_told(runner, root_ca, instance):
    site = configure(runner, "--daemon-user", "portal", "--daemon-group", "portal").stdout
    assert "WSGIDaemonProcess portal user=portal group=portal processes=2 threads=8" in site
    result = configure(runner)
    if os.stat(instance).st_uid == 0:  # mod_wsgi refuses a root daemon: Apache's User, said so
        assert "WSGIDaemonProcess portal processes=" in result.stdout
        assert "mod_wsgi runs no daemon as root" in result.stderr
    else:
        owner = pwd.getpwuid(os.stat(instance).st_uid).pw_name
        assert f"WSGIDaemonProcess portal user={owner} " in result.stdout


def test_without_mod_wsgi_in_the_virtualenv_the_site_says_what_to_install(runner, root_ca,
                                                                          tmp_path):
    home = tmp_path / "venv"
    (home / "bin").mkdir(parents=True)
    result = configure(runner, "--python-home", str(home))
    assert result.exit_code == 0, result.output
    assert f"python-home={home} " in result.stdout
    assert f"# mod_wsgi is not installed in {home}: `{home}/bin/pip install mod_wsgi`" in (
        result.stdout)
    assert "LoadModule wsgi_module" not in result.stdout.split("WSGIRestrictEmbedded")[1]
    assert "mod_wsgi-express not found" in result.stderr


def test_a_python_home_that_is_no_folder_is_one_error_line(runner, root_ca, tmp_path):
    result = configure(runner, "--python-home", str(tmp_path / "missing"))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"Error: --python-home {str(tmp_path / 'missing')!r} is not a folder: give the "
        "virtualenv the portal is installed in"]


def test_a_broken_mod_wsgi_express_is_one_error_line(runner, root_ca, tmp_path):
    home = tmp_path / "venv"
    (home / "bin").mkdir(parents=True)
    express = home / "bin" / "mod_wsgi-express"
    express.write_text("#!/bin/sh\necho 'no apxs here' >&2\nexit 3\n")
    express.chmod(0o755)
    result = configure(runner, "--python-home", str(home))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"Error: `{express} module-config` failed: no apxs here"]
