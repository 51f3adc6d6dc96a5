"""The web page for operations staff (``sn-importer serve``).

Upload a sheet, see the read-only check against Katana, confirm, watch the
run and download the annotated workbook; a history page lists past runs. The
page is a thin layer over the same library calls as the command line:

    app.py       routes and pages (Starlette + Jinja2), the server's parts
    runs.py      runs by id, and the one queue that sends them to Katana in turn
    present.py   what a page shows of a job (plain dictionaries, never the key)
    security.py  binding rules, host names, CSRF, upload checks, security headers
    sessions.py  sessions, the ways to log in (one-time link, password, users), login pauses
    users.py     per-person logins: the users file and its password hashes
    parse_worker.py  reading uploads and writing workbooks in a limited worker
    retention.py how long uploads, workbooks and run records are kept
    address.py   the address ``serve`` tells people to open
    templates/   the pages;  static/  the stylesheet and a little JavaScript
"""

from .app import WebSettings, create_app

__all__ = ["WebSettings", "create_app"]
