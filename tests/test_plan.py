"""The plan: one DELETE per resource in first-seen order, chunked by ids_per_request."""

from __future__ import annotations

import numpy as np

import sn_importer as sn
from sn_importer.plan import build_plan

from conftest import write_csv

HEADER = "resource_type,resource_id,serial_id,serial_number\n"


def test_grouping_in_first_seen_order(tmp_path):
    lines = ["SO row,5001,1,", "MO,3001,2,", "Sales order row,5001,3,", "MO,abc,4,", "Production,4001,5,",
             "MO,3001,2,", "MO,3001.0,,KNF-9"]
    job = sn.read(write_csv(tmp_path, HEADER + "".join(f"{line}\n" for line in lines)))
    assert job.plan.values.tolist() == [
        ["SalesOrderRow", 5001, 2, 1],
        ["ManufacturingOrder", 3001, 2, 1],
        ["Production", 4001, 1, 1],
    ]
    assert {k: v.tolist() for k, v in job.plan_detail.members.items()} == {
        ("SalesOrderRow", 5001): [0, 2],
        ("ManufacturingOrder", 3001): [1, 6],
        ("Production", 4001): [4],
    }
    assert job.rows["request"].tolist() == [
        "DELETE SalesOrderRow 5001 (1/1)", "DELETE ManufacturingOrder 3001 (1/1)", "DELETE SalesOrderRow 5001 (1/1)",
        "", "DELETE Production 4001 (1/1)", "", "DELETE ManufacturingOrder 3001 (1/1)"]
    plan = job.plan_detail
    assert (plan.resource_count, plan.serial_count, plan.delete_requests) == (3, 5, 3)
    assert plan.api_requests() == 3 * 2 + 3
    assert plan.api_requests(with_delete=False) == 3


def test_chunking_250_rows_by_100(tmp_path):
    lines = "".join(f"MO,3001,{1000 + n},\n" for n in range(250)) + "SO row,5001,1,\n"
    job = sn.read(write_csv(tmp_path, HEADER + lines))
    assert job.plan.values.tolist() == [["ManufacturingOrder", 3001, 250, 3], ["SalesOrderRow", 5001, 1, 1]]
    requests = job.rows["request"].tolist()
    assert requests[0] == requests[99] == "DELETE ManufacturingOrder 3001 (1/3)"
    assert requests[100] == requests[199] == "DELETE ManufacturingOrder 3001 (2/3)"
    assert requests[200] == requests[249] == "DELETE ManufacturingOrder 3001 (3/3)"
    assert requests[250] == "DELETE SalesOrderRow 5001 (1/1)"
    assert job.plan_detail.delete_requests == 4
    assert job.plan_detail.api_requests() == 2 * 2 + 4  # 250 serials fit one page of 250


def test_chunks_follow_input_order_when_resources_interleave(tmp_path):
    lines = "".join(f"MO,{3001 + n % 2},{n + 1},\n" for n in range(6))
    rows = sn.read(write_csv(tmp_path, HEADER + lines)).rows
    plan = build_plan(rows, 2)
    assert plan.resources.values.tolist() == [["ManufacturingOrder", 3001, 3, 2], ["ManufacturingOrder", 3002, 3, 2]]
    assert plan.labels.tolist() == [
        "DELETE ManufacturingOrder 3001 (1/2)", "DELETE ManufacturingOrder 3002 (1/2)",
        "DELETE ManufacturingOrder 3001 (1/2)", "DELETE ManufacturingOrder 3002 (1/2)",
        "DELETE ManufacturingOrder 3001 (2/2)", "DELETE ManufacturingOrder 3002 (2/2)"]
    assert {k: v.tolist() for k, v in plan.members.items()} == {("ManufacturingOrder", 3001): [0, 2, 4],
                                                                ("ManufacturingOrder", 3002): [1, 3, 5]}
    assert all(isinstance(k[1], int) and isinstance(k[0], str) for k in plan.members)
    assert all(isinstance(v, np.ndarray) for v in plan.members.values())


def test_same_id_different_types_are_different_resources(tmp_path):
    job = sn.read(write_csv(tmp_path, HEADER + "MO,7,1,\nProduction,7,1,\nMO,7,2,\n"))
    assert job.plan.values.tolist() == [["ManufacturingOrder", 7, 2, 1], ["Production", 7, 1, 1]]


def test_empty_plan_when_nothing_is_valid(tmp_path):
    job = sn.read(write_csv(tmp_path, HEADER + "MO,abc,1,\n"))
    assert job.plan.empty
    assert list(job.plan.columns) == ["resource_type", "resource_id", "serials", "requests"]
    assert job.plan_detail.members == {}
    assert job.plan_detail.api_requests() == 0
    assert job.rows["request"].tolist() == [""]
