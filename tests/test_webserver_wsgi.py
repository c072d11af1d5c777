"""`portal webserver-config apache-wsgi`: the mod_wsgi site, its daemon account and module.

The real Apache running the printed site is in tests/e2e/test_apache_wsgi.py.
"""

import os
import pwd
import re
import sys
from pathlib import Path

import portal
from portal.ca.urls import certificate_base_url
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


def test_ocsp_is_on_by_default_with_its_own_daemon_and_the_crl_as_fallback(runner, root_ca,
                                                                          instance, app):
    result = configure(runner, "--server-name", "localhost")
    assert result.exit_code == 0, result.output
    site, url = result.stdout, certificate_base_url(app.config["PORTAL_PUBLIC_URL"]) + "/ocsp"
    https_host, http_host = site.split("<VirtualHost *:443>")[1].split("<VirtualHost *:80>")
    for line in ("SSLOCSPEnable leaf", f"SSLOCSPDefaultResponder {url}",
                 "SSLOCSPOverrideResponder on", "SSLOCSPResponderTimeout 10",
                 "SSLUseStapling on", f"SSLStaplingForceURL {url}",
                 f"SSLCARevocationFile   {instance / 'crl.pem'}"):
        assert f"\n    {line}\n" in https_host, line
    head = site.split("<VirtualHost")[0]  # the stapling cache belongs outside any VirtualHost
    assert 'SSLStaplingCache "shmcb:portal-ocsp-stapling(128000)"\n' in head
    assert re.search(r"\nWSGIDaemonProcess portal-ocsp( user=\S+ group=\S+)? processes=1 "
                     r"threads=8 \\\n", head)
    # the plain-HTTP responder is answered by that daemon, never queued behind the pages
    assert ('    <LocationMatch "^/(ca/[A-Za-z0-9._-]+/)?ocsp(/.*)?$">\n'
            "        WSGIProcessGroup portal-ocsp\n    </LocationMatch>\n") in http_host
    assert "portal-ocsp" not in https_host and "portal ocsp refresh" in head


def test_ocsp_url_names_the_responder_or_off_leaves_ocsp_out(runner, root_ca, instance):
    given = configure(runner, "--ocsp-url", "http://127.0.0.1:8080/ocsp").stdout
    assert "    SSLOCSPDefaultResponder http://127.0.0.1:8080/ocsp\n" in given
    assert "    SSLStaplingForceURL http://127.0.0.1:8080/ocsp\n" in given
    for spelling in ("off", "OFF"):
        result = configure(runner, "--ocsp-url", spelling)
        assert result.exit_code == 0, result.output
        for word in ("SSLOCSP", "Stapling", "portal-ocsp", "LocationMatch"):
            assert word not in result.stdout, word
        assert f"SSLCARevocationFile   {instance / 'crl.pem'}" in result.stdout
