"""A drop folder takes files, not links: what ``watch`` refuses, on real folders.

Someone who may drop files in ``inbox/`` must not be able to make the
watcher read (and echo) a file they cannot read themselves, nor write
outside the folder. Every case is built on disk: symbolic and hard links,
a pipe, sub-folders and a lock file that are links or belong to another user
(the suite runs as root, so another user's folder is made with ``os.chown``
to a free uid). A canary stands in for the key: it is the environment's key
and the first line of the secret file, and it must appear in no log line
and no summary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_cli
from sandbox_fixtures import serial

from sn_importer.sandbox import running_sandbox
from sn_importer.watch import FileRunner, Layout, Settings, claim, mask_content
from sn_importer.template import load_template

CANARY = "canary-0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
OTHER_UID = 65534
GOOD = "resource_type,resource_id,serial_id\nManufacturingOrder,3001,1001\n"


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file the dropper must never see through the watcher: the operator's env file."""
    path = tmp_path / "srv" / ".env"
    path.parent.mkdir()
    path.write_text(f"KATANA_API_KEY={CANARY}\nKATANA_BASE_URL=https://api.katanamrp.com/v1\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def drops(tmp_path) -> Path:
    (tmp_path / "drops" / "inbox").mkdir(parents=True)
    return tmp_path / "drops"


def watch_once(drops: Path, tmp_path: Path, *args, key: str = CANARY):
    """One cron pass in this process against a sandbox that takes ``key``."""
    with running_sandbox(api_key=key) as katana:
        return run_cli("watch", drops, "--once", "--settle", "0", "--state-dir", tmp_path / "state",
                       "--base-url", katana.base_url, *args,
                       env={"KATANA_API_KEY": key, "XDG_CONFIG_HOME": str(tmp_path / "config")})


def everything_written(drops: Path) -> str:
    """Every summary and every results file the watcher wrote (never following a link)."""
    texts = []
    for path in drops.rglob("*"):
        if path.is_symlink() or not path.is_file() or path.parent.name == "inbox":
            continue
        if path.name.endswith((".summary.json", ".results.csv")):
            texts.append(path.read_text(encoding="utf-8-sig", errors="replace"))
    return "\n".join(texts)


def test_links_and_pipes_in_the_inbox_are_refused_unread(drops, secret, tmp_path):
    inbox = drops / "inbox"
    (inbox / "link.csv").symlink_to(secret)
    os.link(secret, inbox / "hard.csv")
    os.mkfifo(inbox / "pipe.csv")
    (inbox / "good.csv").write_text(GOOD)
    before = secret.read_bytes()

    done = watch_once(drops, tmp_path)

    assert done.returncode == 2, done.stderr
    failed = {p.name for p in (drops / "failed").iterdir()}
    assert {"link.csv", "link.summary.json", "hard.csv", "hard.summary.json", "pipe.csv",
            "pipe.summary.json"} <= failed
    assert (drops / "failed" / "link.csv").is_symlink()  # the link itself was filed, never its target
    assert secret.read_bytes() == before and secret.stat().st_nlink == 2
    reasons = {name: json.loads((drops / "failed" / f"{name}.summary.json").read_text())["error"]
               for name in ("link", "hard", "pipe")}
    assert reasons["link"].startswith("refused: link.csv is a symbolic link")
    assert reasons["hard"].startswith("refused: hard.csv is a hard link (the file has 2 names)")
    assert reasons["pipe"].startswith("refused: pipe.csv is not a regular file")
    assert json.loads((drops / "done" / "good.summary.json").read_text())["statuses"] == {"planned": 1}
    for text in (done.stdout, done.stderr, everything_written(drops)):
        assert CANARY not in text
        assert "KATANA_API_KEY" not in text


def test_what_a_file_holds_is_only_glimpsed_in_messages(drops, tmp_path):
    (drops / "inbox" / "dotenv.csv").write_text(f"KATANA_API_KEY={CANARY}\n")  # a real file: read, and refused

    done = watch_once(drops, tmp_path)

    summary = json.loads((drops / "failed" / "dotenv.summary.json").read_text())
    assert f"no recognisable header (row 1: 'KATA…' ({len('KATANA_API_KEY=' + CANARY)} characters))" \
        in summary["error"]
    assert "event=file file=dotenv.csv result=failed" in done.stderr
    for text in (done.stdout, done.stderr, everything_written(drops)):
        assert CANARY not in text


def test_masking_keeps_short_words_and_apostrophes():
    text = "the sheet's first row: 'Serial number list of March' (template 'default'); “A-very-long-sheet-name”"
    assert mask_content(text) == ("the sheet's first row: 'Seri…' (27 characters) (template 'default'); "
                                  "“A-ve…” (22 characters)")


@pytest.mark.parametrize("sub", ["inbox", "processing", "done", "failed"])
def test_a_sub_folder_that_is_a_link_is_refused(drops, tmp_path, sub):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if sub == "inbox":
        (drops / "inbox").rmdir()
        (elsewhere / "good.csv").write_text(GOOD)
    else:
        (drops / "inbox" / "good.csv").write_text(GOOD)
    (drops / sub).symlink_to(elsewhere, target_is_directory=True)

    done = watch_once(drops, tmp_path)

    assert done.returncode == 2
    assert f"{drops / sub} is a symbolic link" in done.stderr and "event=stopped" in done.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == (["good.csv"] if sub == "inbox" else [])


@pytest.mark.parametrize("sub", ["inbox", "processing", "done", "failed"])
def test_a_sub_folder_of_another_user_is_refused(drops, tmp_path, sub):
    (drops / sub).mkdir(exist_ok=True)
    os.chown(drops / sub, OTHER_UID, OTHER_UID)
    (drops / "inbox" / "good.csv").write_text(GOOD)

    done = watch_once(drops, tmp_path)

    assert done.returncode == 2
    assert f"{drops / sub} belongs to another user (uid {OTHER_UID})" in done.stderr
    assert (drops / "inbox" / "good.csv").read_text() == GOOD


def test_a_lock_file_that_is_a_link_or_another_users_is_refused(drops, secret, tmp_path):
    before = secret.read_bytes()
    (drops / ".sn-importer.lock").symlink_to(secret)
    linked = watch_once(drops, tmp_path)
    assert linked.returncode == 2 and "it is a symbolic link" in linked.stderr
    assert secret.read_bytes() == before  # no pid written over the target

    (drops / ".sn-importer.lock").unlink()
    (drops / ".sn-importer.lock").write_text("")
    os.chown(drops / ".sn-importer.lock", OTHER_UID, OTHER_UID)
    theirs = watch_once(drops, tmp_path)
    assert theirs.returncode == 2 and f"it belongs to another user (uid {OTHER_UID})" in theirs.stderr


def test_a_file_swapped_after_its_claim_is_refused(drops, secret, tmp_path):
    """Between the claim (a rename) and the read, a link or another file in its place is caught
    on the opened descriptor."""
    layout = Layout.create(drops)
    runner = FileRunner(layout, Settings(mode="validate"), load_template(None))
    for name, swap in (("a.csv", lambda p: p.symlink_to(secret)), ("b.csv", lambda p: p.write_text(GOOD))):
        dropped = drops / "inbox" / name
        dropped.write_text(GOOD)
        seen = os.lstat(dropped)
        claimed = claim(layout, dropped, seen)
        claimed.rename(drops / "elsewhere")  # the claimed file goes; something else takes its name
        swap(claimed)
        result = runner.run(claimed, dropped_as=name, seen=seen)
        assert result.place == "failed" and result.exit_code == 2
        assert result.summary["error"].startswith(
            f"refused: {name} is " + ("a symbolic link" if name == "a.csv" else "replaced while it was being claimed"))
        (drops / "elsewhere").unlink()
    assert CANARY not in everything_written(drops)


def test_a_link_left_in_processing_is_refused_when_resumed(drops, secret, tmp_path):
    (drops / "processing").mkdir()
    (drops / "processing" / "left.csv").symlink_to(secret)
    done = watch_once(drops, tmp_path, "--offline")
    assert done.returncode == 2
    assert "refused: left.csv is a symbolic link" in json.loads(
        (drops / "failed" / "left.summary.json").read_text())["error"]
    assert CANARY not in done.stderr + everything_written(drops)
