"""`portal serve`: the portal under gunicorn, over HTTPS, with the public paths on plain HTTP.

Modules by concern: `tls` (the listener's SSLContext), `gunicorn_internals` (every gunicorn
name that is not public API, in one place), `worker` (the gthread worker that keeps slow
clients off its threads), `gate` (the plain-HTTP listener's WSGI wrapper), `application`
(the gunicorn application and the two listeners), `renewal` (the server certificate kept
fresh). The click command is `portal.cli.serve`.
"""
