"""The page is the operator's: secrets, TLS, host names, logins, who confirmed, private state.

Through Starlette's test client against a real sandbox on loopback (as in
``test_web.py``), except where a real server is the point: ``serve`` over
TLS with a self-signed certificate made here with ``cryptography``. Two
client addresses are two test clients with their own ``client`` address; a
fake clock moves time, nothing sleeps.
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import os
import re
import ssl
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from conftest import free_port, wait_for
from test_web import KEY, PASSWORD, SAMPLE, Page, _deletes, run_url, settings_for, text

from sn_importer.clock import FakeClock
from sn_importer.web import create_app
from sn_importer.web.sessions import IDLE_SECONDS, LoginThrottle
from sn_importer.web.users import Users, hash_password

OFFICE = "office-pc.example"


@pytest.fixture
def sandbox():
    from sn_importer.sandbox import running_sandbox

    with running_sandbox(api_key=KEY, rate_limit=(100_000, 60.0)) as server:
        yield server


# --------------------------------------------------------------------------- always a secret


def test_on_loopback_without_a_password_the_page_opens_only_with_its_one_time_link(sandbox, tmp_path):
    """Another user of the same computer reaches 127.0.0.1 too: without the link they get nothing."""
    app = create_app(settings_for(sandbox, tmp_path))
    token = app.state.server.logins.token
    with TestClient(app, base_url="http://127.0.0.1") as operator, \
            TestClient(app, base_url="http://127.0.0.1") as stranger:
        intruder = Page(stranger, log_in=False)
        assert intruder.get("/", follow_redirects=False).headers["location"] == "/login"
        assert "link sn-importer serve printed" in text(intruder.get("/login"))
        assert intruder.upload(SAMPLE).status_code == 403
        assert intruder.post("/login", {"password": "anything"}).status_code == 403

        page = Page(operator, log_in=False)
        assert page.get(f"/login?token={token}", follow_redirects=False).status_code == 303
        url = run_url(page.upload(SAMPLE))
        page.wait(url, "ready")
        spent = intruder.get(f"/login?token={token}")  # the link, seen over a shoulder: already spent
        assert spent.status_code == 403 and "spent" in text(spent)
        for attempt in (intruder.post(f"{url}/apply"), intruder.get(f"{url}/download", follow_redirects=False)):
            assert attempt.status_code in (303, 403)
        assert page.get(f"{url}/status").json()["phase"] == "ready" and _deletes(sandbox) == 0


# --------------------------------------------------------------------------- host names, HSTS


def test_host_names_are_checked_against_the_allow_list_also_with_a_password(sandbox, tmp_path):
    app = create_app(settings_for(sandbox, tmp_path, password=PASSWORD, allowed_hosts=(OFFICE,)))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for host, status in (("rebound.example", 421), (f"{OFFICE}:8000", 200), ("localhost", 200),
                             ("10.1.2.3:8000", 200), ("[::1]:8000", 200)):
            assert client.get("/login", headers={"host": host}).status_code == status, host


def test_hsts_over_https_and_behind_an_https_proxy_only(sandbox, tmp_path):
    for options, base, hsts in (({}, "http://127.0.0.1", False), ({}, "https://127.0.0.1", True),
                                ({"behind_https_proxy": True}, "http://127.0.0.1", True)):
        app = create_app(settings_for(sandbox, tmp_path, password=PASSWORD, **options))
        with TestClient(app, base_url=base) as client:
            answer = client.get("/login")
            assert ("strict-transport-security" in answer.headers) == hsts, (options, base)
            if hsts:
                assert answer.headers["strict-transport-security"] == "max-age=31536000"
                assert all("Secure" in c for c in answer.headers.get_list("set-cookie"))


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_serve_over_tls_with_its_own_certificate(tmp_path):
    cert, key = self_signed(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KATANA_")} | {"SN_PASS": PASSWORD}
    server = subprocess.Popen([sys.executable, "-m", "sn_importer", "serve", "--sandbox", "--port", str(port),
                               "--state-dir", str(tmp_path / "state"), "--password-env", "SN_PASS",
                               "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    base = f"https://127.0.0.1:{port}"
    try:
        told = server.stdout.readline()
        assert f"open {base}/ in a browser" in told, told
        with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=str(cert)), timeout=None) as client:
            def answers() -> httpx.Response | None:
                assert server.poll() is None, server.communicate()[1]
                try:
                    return client.get("/login")
                except httpx.TransportError:
                    return None

            login = wait_for(answers, timeout=100, what="serve over TLS")
            assert login.status_code == 200 and login.headers["strict-transport-security"] == "max-age=31536000"
            assert all(c.endswith("; Secure") for c in login.headers.get_list("set-cookie"))
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=30)  # no plain HTTP on that port
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_serve_beyond_loopback_needs_tls_or_a_proxy_in_front(cli, tmp_path):
    state = ("--state-dir", tmp_path / "state")
    env = {"SN_PASS": PASSWORD}
    clear = cli("serve", "--host", "0.0.0.0", "--sandbox", "--password-env", "SN_PASS", *state, env=env)
    assert clear.returncode == 2 and "without TLS" in clear.stderr and "--behind-https-proxy" in clear.stderr
    header = cli("serve", "--sandbox", "--trusted-user-header", "X-Remote-User", *state)
    assert header.returncode == 2 and "only from an HTTPS proxy" in header.stderr
    broken = cli("serve", "--sandbox", "--ssl-certfile", tmp_path / "missing.pem", *state)
    assert broken.returncode == 2 and "cannot use the certificate" in broken.stderr


# --------------------------------------------------------------------------- logins: pauses, ceiling, idle


def test_the_login_pause_is_per_address_and_spares_everyone_else(sandbox, tmp_path):
    clock = FakeClock(time.time())
    app = create_app(settings_for(sandbox, tmp_path, password=PASSWORD, clock=clock))
    throttle = app.state.server.throttle
    with TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.1", 5000)) as guesser_client, \
            TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.2", 5000)) as colleague_client, \
            TestClient(app, base_url="http://127.0.0.1", client=("10.0.0.3", 5000)) as logged_in_client:
        guesser, colleague, busy = Page(guesser_client), Page(colleague_client), Page(logged_in_client)
        busy.log_in(PASSWORD, "Ann")
        pauses = []
        for attempt in range(1, 8):
            assert guesser.post("/login", {"password": f"guess-{attempt}"}).status_code == 403
            inside = guesser.post("/login", {"password": PASSWORD})  # inside the pause: not even looked at
            assert inside.status_code == 429 and "sn_session" not in guesser_client.cookies
            pauses.append(float(inside.headers["retry-after"]))
            assert throttle.failures("10.0.0.1") == attempt
            colleague.log_in(PASSWORD, "Bob")  # another address: never paused by the guesser
            colleague.post("/logout")
            assert busy.get("/").status_code == 200  # a session is never affected
            clock.advance(pauses[-1])
        assert pauses[:4] == [1, 2, 4, 8] and max(pauses) == LoginThrottle.CAP
        guesser.log_in(PASSWORD, "Carl")  # the guessing stopped: in at once
        assert throttle.failures("10.0.0.1") == 0


def test_guessing_from_many_addresses_meets_a_ceiling_for_the_whole_server(sandbox, tmp_path):
    clock = FakeClock(time.time())
    app = create_app(settings_for(sandbox, tmp_path, password=PASSWORD, clock=clock))
    clients = [TestClient(app, base_url="http://127.0.0.1", client=(f"10.1.{n // 250}.{n % 250}", 1))
               for n in range(LoginThrottle.CEILING + 1)]
    with TestClient(app, base_url="http://127.0.0.1", client=("10.9.9.9", 1)) as session_client:
        busy = Page(session_client)
        busy.log_in(PASSWORD, "Ann")
        for client in clients[:-1]:
            assert Page(client).post("/login", {"password": "guess"}).status_code == 403
        late = Page(clients[-1])  # a fresh address, but the ceiling is reached: its password is not looked at
        refused = late.post("/login", {"password": PASSWORD})
        assert refused.status_code == 429 and float(refused.headers["retry-after"]) <= LoginThrottle.WINDOW
        assert busy.get("/").status_code == 200
        clock.advance(LoginThrottle.WINDOW)
        late.log_in(PASSWORD, "Dora")
    for client in clients:
        client.close()


def test_a_session_ends_after_its_idle_time(sandbox, tmp_path):
    clock = FakeClock(time.time())
    app = create_app(settings_for(sandbox, tmp_path, password=PASSWORD, clock=clock))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = Page(client)
        page.log_in(PASSWORD)
        for _ in range(5):  # in use: it lives on past the idle time
            clock.advance(IDLE_SECONDS - 60)
            assert page.get("/", follow_redirects=False).status_code == 200
        clock.advance(IDLE_SECONDS)
        assert page.get("/", follow_redirects=False).headers["location"] == "/login"


# --------------------------------------------------------------------------- who confirmed


def summary_facts(workbook: bytes) -> dict[str, str]:
    sheet = load_workbook(io.BytesIO(workbook))["Summary"]
    return {str(r[0]): str(r[1]) for r in sheet.iter_rows(values_only=True) if r and r[0] and len(r) > 1}


def test_each_confirmed_run_names_its_person_from_a_per_person_login(sandbox, tmp_path):
    users = Users({"ann.lee": hash_password("ann's long password"), "bob": hash_password("bob's long password")})
    clock = FakeClock(time.time())
    app = create_app(settings_for(sandbox, tmp_path, users=users, clock=clock))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = Page(client)
        assert page.post("/login", {"name": "ann.lee", "password": "bob's long password"}).status_code == 403
        assert page.post("/login", {"name": "carl", "password": "ann's long password"}).status_code == 429
        clock.advance(LoginThrottle.BASE)
        page.log_in("ann's long password", "ann.lee")
        assert "ann.lee" in text(page.get("/"))
        url = run_url(page.upload(SAMPLE))
        page.wait(url, "ready")
        page.post(f"{url}/apply")
        page.wait(url, "done")
        assert summary_facts(page.get(f"{url}/download").content)["Confirmed by"] == "ann.lee"
        assert "Confirmed by ann.lee" in text(page.get(url))
        row = re.search(r"<tr>.*?</tr>", page.get("/history").text.split("<tbody>")[1], re.S).group(0)
        assert "ann.lee" in text_of(row)


def test_a_trusted_proxy_header_names_the_person_and_is_required(sandbox, tmp_path):
    app = create_app(settings_for(sandbox, tmp_path, password=PASSWORD, behind_https_proxy=True,
                                  trusted_user_header="X-Remote-User"))
    # the browser speaks HTTPS to the proxy: the cookies are Secure, so the test client must be on https too
    with TestClient(app, base_url="https://127.0.0.1", headers={"x-remote-user": "carol@example.com"}) as client:
        page = Page(client)
        page.log_in(PASSWORD)
        url = run_url(page.upload(SAMPLE))
        page.wait(url, "ready")
        page.post(f"{url}/apply")
        page.wait(url, "done")
        assert summary_facts(page.get(f"{url}/download").content)["Confirmed by"] == "carol@example.com"
        assert "carol@example.com" in text(page.get("/history"))
        bare = client.get("/", headers={"x-remote-user": ""})
        assert bare.status_code == 403 and "did not name you" in text(bare)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_users_file_must_be_the_operators_own(tmp_path):
    from sn_importer.errors import UsageError

    path = tmp_path / "users"
    path.write_text(f"ann:{hash_password('long enough')}\n")
    path.chmod(0o600)
    assert Users.load(path).check("ann", "long enough") == "ann"
    assert Users.load(path).check("ann", "wrong") is None and Users.load(path).check("nobody", "x") is None
    path.chmod(0o620)
    with pytest.raises(UsageError, match="can be written by others"):
        Users.load(path)
    path.chmod(0o600)
    os.chown(path, 65534, 65534)
    with pytest.raises(UsageError, match="belongs to another user"):
        Users.load(path)


# --------------------------------------------------------------------------- least privilege


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_is_the_operators_alone(sandbox, tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)  # a state folder from before: narrowed
    app = create_app(settings_for(sandbox, tmp_path))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = Page(client)
        url = run_url(page.upload(SAMPLE))
        page.wait(url, "ready")
        page.post(f"{url}/apply")
        page.wait(url, "done")
    folders = [state, state / "web", state / "web" / "uploads", state / "web" / "results", state / "web" / "runs",
               *(state / "web" / "uploads").iterdir()]
    assert {str(f.relative_to(tmp_path)): mode(f) for f in folders} == \
        {str(f.relative_to(tmp_path)): 0o700 for f in folders}
    files = [p for p in state.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"journal.sqlite3", "quota.sqlite3", "serials.xlsx"} <= names
    assert any(n.endswith("-apply.xlsx") for n in names) and any(n.endswith(".json") for n in names)
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_no_pickle_is_ever_read_from_the_upload_folder(tmp_path):
    """The worker's outcome comes through a pipe: a file planted beside an upload is never read."""
    from sn_importer.job import Job
    from sn_importer.template import load_template
    from sn_importer.web.parse_worker import parse_upload

    upload = tmp_path / "uploads" / "0123456789abcdef" / "serials.xlsx"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(SAMPLE.read_bytes())
    marker = tmp_path / "planted-code-ran"

    class Planted:
        def __reduce__(self):
            return (Path.touch, (marker,))

    import pickle

    for name in ("serials.xlsx.job", "serials.xlsx.pickle"):
        (upload.parent / name).write_bytes(pickle.dumps(("job", Planted())))
    job = parse_upload(upload, load_template("default"), "serials.xlsx")
    assert job.counts() == Job(SAMPLE).counts() and not marker.exists()
    assert sorted(p.name for p in upload.parent.iterdir()) == ["serials.xlsx", "serials.xlsx.job",
                                                                 "serials.xlsx.pickle"]


def test_the_worker_starts_with_a_minimal_environment_and_writes_the_workbook_within_its_limits(
        sandbox, tmp_path, monkeypatch):
    from sn_importer.guard import Limits
    from sn_importer.web import check_worker, parse_worker

    canary = "canary-worker-env-0f9e8d7c"
    monkeypatch.setenv("KATANA_API_KEY", canary)
    monkeypatch.setenv("SN_PASS", canary + "-password")
    # how the server reaches Katana reaches the checks too (https only: the sandbox here is plain http)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    parse_worker._server._stop()  # a worker started now sees this environment
    with check_worker._forker.lock:
        check_worker._forker._stop()  # and so does the checks' forking server
    app = create_app(settings_for(sandbox, tmp_path, password=PASSWORD))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = Page(client)
        page.log_in(PASSWORD)
        url = run_url(page.upload(SAMPLE))
        page.wait(url, "ready")
        workers = parse_worker._server.processes() + check_worker._forker.processes()
        assert len(workers) >= 2  # a parse worker, and the process the checks are forked from (the key: by pipe)
        for worker in workers:
            environ = Path(f"/proc/{worker.pid}/environ").read_bytes()
            assert canary.encode() not in environ and b"KATANA" not in environ and b"SN_PASS" not in environ
        for forker in check_worker._forker.processes():
            assert b"HTTPS_PROXY=http://proxy.invalid:3128" in Path(f"/proc/{forker.pid}/environ").read_bytes()
            assert b"PATH=" in environ
        run = app.state.server.registry.get(url.rsplit("/", 1)[1])
        run.result = app.state.server.read_again(run).validation()  # the check let go of its rows once shown
        target = tmp_path / "again.xlsx"
        assert parse_worker.write_result(run.result, target) == target and mode(target) == 0o600
        starved = Limits(worker_memory_bytes=0)  # not one byte more than it holds
        with pytest.raises(parse_worker.WorkerStopped, match="Writing the workbook of “serials.xlsx” needed more than"):
            parse_worker.write_result(run.result, tmp_path / "starved.xlsx", limits=starved)
        assert not (tmp_path / "starved.xlsx").exists()
    parse_worker._server._stop()  # the next test's worker starts without the canary
    with check_worker._forker.lock:
        check_worker._forker._stop()


# --------------------------------------------------------------------------- the command line's own


def test_an_uncaught_error_never_prints_local_variables(tmp_path):
    """typer's pretty tracebacks would print every local (the key, the password); the app turns that off.
    The same crash with locals shown proves the check can see them."""
    canary = "canary-local-7a6b5c"
    script = ("import sys\nfrom sn_importer.cli.app import app\n"
              "app.pretty_exceptions_show_locals = sys.argv[1] == 'locals'\n"
              "@app.command('crash')\ndef crash():\n    api_key = %r\n    raise RuntimeError('boom')\n"
              "sys.argv = ['sn-importer', 'crash']\napp()\n" % canary)
    env = {**os.environ, "COLUMNS": "200", "TERM": "xterm", "_TYPER_STANDARD_TRACEBACK": ""}
    runs = {how: subprocess.run([sys.executable, "-c", script, how], capture_output=True, text=True, env=env)
            for how in ("plain", "locals")}
    assert "RuntimeError" in runs["plain"].stderr and canary not in runs["plain"].stderr
    assert canary in runs["locals"].stderr
    from sn_importer.cli.app import app

    assert app.pretty_exceptions_show_locals is False


def test_a_bare_template_name_is_always_a_shipped_one(tmp_path, monkeypatch, cli):
    from sn_importer.template import available_templates, load_template

    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").write_text('[fields.serial_id]\naliases = ["hijacked"]\n')
    (tmp_path / "mine.toml").write_text(available_templates()["default"].read_text())
    assert load_template("default").path == available_templates()["default"]
    assert load_template("mine.toml").path == Path("mine.toml")  # a file of one's own: named as a path
    assert load_template("./default").path == Path("default")
    sheet = tmp_path / "s.csv"
    sheet.write_text("resource_type,resource_id,serial_id\nMO,1,2\n")
    assert cli("validate", sheet, "--template", "default", cwd=tmp_path).returncode == 0


def test_docs_state_the_limits_the_code_enforces():
    from sn_importer.guard import LIMITS, size

    docs = (Path(__file__).parent.parent / "docs" / "web.md").read_text()
    assert f"at most {LIMITS.parts:,} parts and {size(LIMITS.inflated_bytes)} unpacked" in docs
    assert f"no part compressed more than {LIMITS.inflation_ratio}" in docs
    assert f"{size(LIMITS.worker_memory_bytes)} of memory" in docs
    assert f"{LIMITS.worker_cpu_seconds} s of processor" in docs and f"{LIMITS.worker_wall_seconds} s in all" in docs


def test_no_doc_or_notebook_puts_the_key_in_code():
    """A key typed into a notebook cell is saved with the notebook: the docs say to use the environment."""
    import json as json_module

    root = Path(__file__).parent.parent
    notebook = json_module.loads((root / "samples" / "preview.ipynb").read_text())
    cells = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert not [cell for cell in cells if "api_key=" in cell]
    assert any("KATANA_API_KEY" in cell for cell in cells)
    for doc in [root / "README.md", *(root / "docs").glob("*.md")]:
        assert "api_key=..." not in doc.read_text(), doc.name
