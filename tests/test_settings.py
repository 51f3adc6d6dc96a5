"""The key goes to Katana and nowhere else.

A canary key and a capture server on loopback (``tests/capture.py``) stand in
for the key and for a host of someone else's choosing: every test asserts
what reached the capture server. Env files are real files with real modes and
owners (the suite runs as root, so another user's file is made with
``os.chown`` to a free uid).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from capture import capture_server
from conftest import run_cli
from sandbox_fixtures import serial

from sn_importer.errors import UsageError
from sn_importer.sandbox import running_sandbox
from sn_importer.settings import (DEFAULT_BASE_URL, check_base_url, default_env_file, describe_target,
                                  resolve_connection, resolve_quota_share)

CANARY = "canary-7f3a9b2c-4d5e-6f70-8192-a3b4c5d6e7f8"
OTHER_UID = 65534  # "nobody": a user the suite does not run as
SHEET = "resource_type,resource_id,serial_id\nMO,1,1\n"


def env_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def config(tmp_path) -> dict:
    """An XDG config folder of the test's own: the machine's real one is never read."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "config")}


@pytest.fixture
def sheet(tmp_path) -> Path:
    path = tmp_path / "shared" / "sheet.csv"
    path.parent.mkdir()
    path.write_text(SHEET)
    return path


# --------------------------------------------------------------------------- the order of sources


def test_arguments_then_environment_then_the_env_file(tmp_path):
    dotenv = env_file(tmp_path / "k.env", "KATANA_API_KEY=from-file\nKATANA_BASE_URL=https://file.example/v1\n")
    bare = resolve_connection(env={}, env_file=env_file(tmp_path / "empty.env", ""))
    assert (bare.base_url, bare.api_key) == (DEFAULT_BASE_URL, None)
    from_file = resolve_connection(env={}, env_file=dotenv)
    assert (from_file.base_url, from_file.api_key) == ("https://file.example/v1", "from-file")
    from_env = resolve_connection(env={"KATANA_API_KEY": "from-env", "KATANA_BASE_URL": "http://127.0.0.1:9/v1/"},
                                  env_file=dotenv)
    assert (from_env.base_url, from_env.api_key) == ("http://127.0.0.1:9/v1", "from-env")
    given = resolve_connection("https://arg.example/v1", "from-arg", env={"KATANA_API_KEY": "x"}, env_file=dotenv)
    assert (given.base_url, given.api_key) == ("https://arg.example/v1", "from-arg")
    assert "from-arg" not in repr(given) and "from-arg" not in str(given)


def test_a_dotenv_in_the_current_folder_is_never_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(f"KATANA_API_KEY={CANARY}\nKATANA_BASE_URL=http://127.0.0.1:9/v1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("KATANA_API_KEY", raising=False)
    monkeypatch.delenv("KATANA_BASE_URL", raising=False)
    connection = resolve_connection()
    assert (connection.base_url, connection.api_key) == (DEFAULT_BASE_URL, None)
    assert "KATANA_API_KEY" not in os.environ


def test_the_default_env_file_is_in_the_users_config_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert default_env_file() == tmp_path / "config" / "sn-importer" / ".env"
    env_file(default_env_file(), f"KATANA_API_KEY={CANARY}\nKATANA_QUOTA_SHARE=60%\n")
    assert resolve_connection(env={}).api_key == CANARY
    assert resolve_quota_share(None, env={}) == 0.6


def test_the_quota_share_comes_from_the_option_the_environment_or_the_env_file(tmp_path):
    dotenv = env_file(tmp_path / "k.env", "KATANA_QUOTA_SHARE=60%\n")
    assert resolve_quota_share(None, env={}, env_file=env_file(tmp_path / "empty.env", "")) == 0.8
    assert resolve_quota_share(None, env={}, env_file=dotenv) == 0.6
    assert resolve_quota_share(None, env={"KATANA_QUOTA_SHARE": "0.5"}, env_file=dotenv) == 0.5
    assert resolve_quota_share("1", env={"KATANA_QUOTA_SHARE": "0.5"}, env_file=dotenv) == 1.0
    for bad in ("0", "1.5", "abc", "120%", "nan"):
        with pytest.raises(UsageError, match="not a share of the quota"):
            resolve_quota_share(bad, env={}, env_file=dotenv)


# --------------------------------------------------------------------------- the env file must be the operator's


def test_an_env_file_others_can_write_is_refused(tmp_path):
    for mode in (0o620, 0o602, 0o666):
        path = env_file(tmp_path / f"{mode:o}.env", f"KATANA_API_KEY={CANARY}\n", mode)
        with pytest.raises(UsageError, match=rf"can be written by others \(mode {mode:04o}\).*chmod 600"):
            resolve_connection(env={}, env_file=path)
    assert resolve_connection(env={}, env_file=env_file(tmp_path / "ok.env", "KATANA_API_KEY=k\n", 0o640)).api_key


def test_an_env_file_of_another_user_is_refused(tmp_path):
    path = env_file(tmp_path / "theirs.env", f"KATANA_API_KEY={CANARY}\n")
    os.chown(path, OTHER_UID, OTHER_UID)
    with pytest.raises(UsageError, match=f"belongs to another user \\(uid {OTHER_UID}\\)"):
        resolve_connection(env={}, env_file=path)


def test_an_env_file_that_is_not_a_file_or_is_missing_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe.env")
    with pytest.raises(UsageError, match="not a regular file"):
        resolve_connection(env={}, env_file=tmp_path / "pipe.env")
    with pytest.raises(UsageError, match="--env-file .*: no such file"):
        resolve_connection(env={}, env_file=tmp_path / "missing.env")


# --------------------------------------------------------------------------- plain http


@pytest.mark.parametrize("url", ["http://10.1.2.3/v1", "http://katana.example/v1", "http://127.0.0.1.example/v1"])
def test_plain_http_to_another_computer_is_refused(url):
    with pytest.raises(UsageError, match="plain http: the key would cross the network in clear"):
        check_base_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/v1", "http://localhost:1/v1", "http://[::1]:2/v1",
                                 "http://127.9.9.9/v1"])
def test_plain_http_on_loopback_is_taken_when_given_explicitly(url, tmp_path):
    assert check_base_url(url) == url
    with pytest.raises(UsageError, match="KATANA_BASE_URL in .* is plain http"):
        resolve_connection(env={}, env_file=env_file(tmp_path / "k.env", f"KATANA_BASE_URL={url}\n"))


def test_the_target_is_named_by_host_and_scheme():
    assert describe_target(DEFAULT_BASE_URL) == "Katana: api.katanamrp.com (https)"
    assert describe_target("http://127.0.0.1:8765/v1", sandbox=True) == \
        "Katana: the built-in sandbox on 127.0.0.1:8765 (http)"


# --------------------------------------------------------------------------- the command line, with a capture server


def test_a_dotenv_in_a_shared_folder_cannot_send_the_key_elsewhere(sheet, config):
    """The attack: a .env in the folder where the operator runs a command names the attacker's host."""
    with capture_server() as capture, running_sandbox(records=[serial(1, "A", resource_id=1)],
                                                      api_key=CANARY) as katana:
        (sheet.parent / ".env").write_text(f"KATANA_BASE_URL={capture.url}\nKATANA_API_KEY={CANARY}\n")
        done = run_cli("preview", sheet, "--json", cwd=sheet.parent,
                       env={"KATANA_API_KEY": CANARY, "KATANA_BASE_URL": katana.base_url, **config})
        keyless = run_cli("preview", sheet, cwd=sheet.parent, env={"KATANA_BASE_URL": katana.base_url, **config})
    assert capture.requests == []
    assert done.returncode == 0, done.stderr
    host = katana.base_url.split("//")[1].split("/")[0]
    assert done.stderr.splitlines()[0] == f"Katana: {host} (http)"
    assert json.loads(done.stdout)["katana"] == {"host": host, "scheme": "http"}
    assert keyless.returncode == 2 and "no API key" in keyless.stdout + keyless.stderr  # the .env's key: not read


def test_a_refused_env_file_sends_nothing(sheet, config, tmp_path):
    with capture_server() as capture:
        writable = env_file(tmp_path / "w.env", f"KATANA_API_KEY={CANARY}\n", 0o666)
        theirs = env_file(tmp_path / "t.env", f"KATANA_API_KEY={CANARY}\n")
        os.chown(theirs, OTHER_UID, OTHER_UID)
        plain = env_file(Path(config["XDG_CONFIG_HOME"]) / "sn-importer" / ".env",
                         f"KATANA_API_KEY={CANARY}\nKATANA_BASE_URL={capture.url}\n")
        runs = {"writable": run_cli("apply", sheet, "--env-file", writable, env={"KATANA_BASE_URL": capture.url,
                                                                                 **config}),
                "theirs": run_cli("preview", sheet, "--env-file", theirs, env={"KATANA_BASE_URL": capture.url,
                                                                               **config}),
                "http in a file": run_cli("preview", sheet, "--json", env=config),
                "http elsewhere": run_cli("preview", sheet, "--env-file", theirs.with_name("w.env"),
                                          "--base-url", "http://10.1.2.3/v1", env=config)}
    assert plain.is_file() and capture.requests == []
    for name, done in runs.items():
        assert done.returncode == 2, name
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, (name, done.stderr)
        assert CANARY not in done.stdout + done.stderr
    assert "chmod 600" in runs["writable"].stderr and "belongs to another user" in runs["theirs"].stderr
    assert "plain http" in runs["http in a file"].stderr and json.loads(runs["http in a file"].stdout)["exit_code"] == 2


def test_an_env_file_the_operator_chose_is_used(sheet, config, tmp_path):
    with running_sandbox(records=[serial(1, "A", resource_id=1)], api_key=CANARY) as katana:
        chosen = env_file(tmp_path / "ops" / "katana.env", f"KATANA_API_KEY={CANARY}\n")
        done = run_cli("preview", sheet, "--env-file", chosen, "--base-url", katana.base_url, env=config)
    assert done.returncode == 0, done.stderr
    assert "Katana: 127.0.0.1:" in done.stderr and CANARY not in done.stdout + done.stderr


def test_watch_and_serve_refuse_a_bad_env_file_before_anything(tmp_path, config):
    (tmp_path / "drops").mkdir()
    writable = env_file(tmp_path / "w.env", f"KATANA_API_KEY={CANARY}\n", 0o664)
    with capture_server() as capture:
        watched = run_cli("watch", tmp_path / "drops", "--once", "--env-file", writable,
                          env={"KATANA_BASE_URL": capture.url, **config})
        served = run_cli("serve", "--env-file", writable, "--port", "1", env={"KATANA_BASE_URL": capture.url,
                                                                              **config})
    assert capture.requests == []
    assert watched.returncode == 2 and "event=stopped" in watched.stderr and "chmod 600" in watched.stderr
    assert served.returncode == 2 and "chmod 600" in served.stderr
