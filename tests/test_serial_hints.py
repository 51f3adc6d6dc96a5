"""What a row whose serial is not on its resource is told, against the sandbox over loopback HTTP.

Katana matches serial strings exactly, so only the exact serial is ever
sent; when the resource holds one that differs only in letter case or
spacing, the row's message names it so the sheet can be corrected. The hint
comes from the list the run reads anyway: it costs no request.
"""

from __future__ import annotations

import csv
from pathlib import Path

from conftest import FAST
from sandbox_fixtures import serial as rec

import sn_importer as sn
from sn_importer.sandbox import running_sandbox

RECORDS = [rec(1, "SN-0001"), rec(2, "AB 12"), rec(3, "KEEP-1"), rec(4, "Cd-9"), rec(5, "cD-9")]
ROWS = [("MO", 3001, "sn-0001"), ("MO", 3001, "AB12"), ("MO", 3001, "ab12"), ("MO", 3001, "CD-9"),
        ("MO", 3001, "NOPE"), ("MO", 3001, "KEEP-1")]


def near_sheet(tmp_path: Path) -> Path:
    path = tmp_path / "near.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_type", "resource_id", "serial_number"])
        writer.writerows(ROWS)
    return path


def test_a_serial_differing_only_in_case_or_spacing_is_named_and_never_sent(tmp_path, state):
    path = near_sheet(tmp_path)
    with running_sandbox(records=RECORDS, api_key="k", rate_limit=(100, 1.0)) as server:
        preview = sn.read(path).preview(base_url=server.base_url, api_key="k", state_dir=state, client_options=FAST)
        assert server.store.stats()["requests"] == {"GET": 1, "DELETE": 0, "POST": 0}, "the hint is read from the one list before"
        applied = sn.read(path).apply(base_url=server.base_url, api_key="k", state_dir=state, client_options=FAST)
        assert {r["id"] for r in server.store.find("ManufacturingOrder", 3001)} == {1, 2, 4, 5}
    assert applied.requests == {**applied.requests, "GET": 2, "DELETE": 1}
    for result in (preview, applied):
        rows = result.rows
        assert rows["status"].tolist()[:5] == ["not_on_resource"] * 5
        message = rows["message"].tolist()
        assert message[0] == (
            "serial 'sn-0001' is not on Manufacturing order 3001 (checked before any delete; nothing sent); "
            "'SN-0001' is on it, differing only in letter case: Katana matches serials exactly, so correct "
            "this row's serial and run again")
        assert "; 'AB 12' is on it, differing only in spacing:" in message[1]
        assert "; 'AB 12' is on it, differing only in letter case and spacing:" in message[2]
        assert "; 'Cd-9', 'cD-9' are on it, differing only in letter case:" in message[3]
        assert "is on it" not in message[4] and "are on it" not in message[4]
    assert preview.rows.at[5, "status"] == "planned" and applied.rows.at[5, "status"] == "deleted"
