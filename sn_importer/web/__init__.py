"""The web page for operations staff (``sn-importer serve``).

Upload a sheet, see the read-only check against Katana, confirm, watch the
run and download the annotated workbook; undo a finished run; a history page
lists past runs and their undos. The page is a thin layer over the same
library calls as the command line:

    app.py       puts the parts together: routes, the guard in front, error pages
    server.py    what the server is started with (WebSettings) and its moving parts
    routes.py    upload, check, confirm, progress, resume, download, the blank sheet
    undo.py      "Undo this run": an undo as a run of its own (check, confirm, progress, report)
    undo_routes.py  its two POST routes: start the undo's check, confirm it
    history.py   the History page (the journal read through sn_importer.history)
    login.py     logging in and out
    runs.py      runs by id, and the one queue that sends them to Katana in turn
    present.py   what a page shows of a job (plain dictionaries, never the key)
    guard.py     binding rules, host names, sessions required, security headers
    csrf.py      the form token and the origin of every POST
    sessions.py  sessions, the ways to log in (one-time link, password, users), login pauses
    users.py     per-person logins: the users file and its password hashes
    uploads.py   what the page takes (asked of the formats table), where it keeps it
    parse_worker.py  reading uploads and writing workbooks in a limited worker
    retention.py how long uploads, workbooks and run records are kept
    address.py   the address ``serve`` tells people to open
    templates/   the pages;  static/  the stylesheet and a little JavaScript
"""

from .app import WebSettings, create_app

__all__ = ["WebSettings", "create_app"]
