"""The cost model: per resource type, the listing that needs fewer requests."""

from __future__ import annotations

import pytest

from sn_importer.strategy import Listing, ListingPlan, choose, pages_for, per_type, worth_probing

MO = "ManufacturingOrder"


def mos(count: int, serials: int = 2, deletes: int = 1) -> list[tuple[str, int, int]]:
    return [(MO, serials, deletes)] * count


def test_200_mos_in_a_tenant_of_1600_mo_serials_are_listed_whole():
    choice = choose(per_type(mos(200))[MO], type_records=1600, type_pages=7)
    assert choice.listing is Listing.TYPE_WIDE
    # pages before (the probe is the first), after, each list of several pages read twice; DELETEs
    assert choice.requests("apply") == 2 * 7 + 2 * 7 + 200
    assert choice.requests("apply") / 200 <= 1.2
    assert choice.requests("preview") == 2 * 7


def test_5_resources_in_a_tenant_of_50000_serials_stay_per_resource_plus_the_probe():
    choice = choose(per_type(mos(5))[MO], type_records=50_000, type_pages=200)
    assert choice.listing is Listing.PER_RESOURCE
    assert choice.requests("apply") == 3 * 5 + 1
    assert choice.requests("preview") == 5 + 1


def test_one_resource_is_not_worth_a_probe():
    assert not worth_probing(per_type(mos(1))[MO].list_pages)
    assert per_type(mos(1))[MO].requests("apply") == 3
    assert worth_probing(per_type(mos(2))[MO].list_pages)


@pytest.mark.parametrize(("type_pages", "list_pages", "listing"), [
    (1, 2, Listing.TYPE_WIDE),
    (2, 4, Listing.TYPE_WIDE),  # a tie (two pages are read twice): the probe is already spent, so the whole type wins
    (2, 3, Listing.PER_RESOURCE),
    (3, 2, Listing.PER_RESOURCE),
    (0, 2, Listing.TYPE_WIDE),  # an empty type is one (empty) page
])
def test_the_choice_counts_the_probe_as_spent(type_pages, list_pages, listing):
    choice = choose(per_type(mos(list_pages))[MO], type_records=type_pages * 250, type_pages=type_pages)
    assert choice.listing is listing
    whole = 2 * (max(1, type_pages) if type_pages <= 1 else 2 * type_pages)
    other = 2 * list_pages + 1 if listing is Listing.TYPE_WIDE else whole
    assert choice.list_requests("apply") <= other


def test_a_resource_with_many_serials_counts_its_pages():
    choices = per_type([(MO, 600, 6), (MO, 1, 1)])
    assert choices[MO].list_pages == 2 * 3 + 1  # a list of several pages is read twice
    assert choices[MO].delete_requests == 7
    assert pages_for(0) == 1 and pages_for(250) == 1 and pages_for(251) == 2


def test_a_mixed_sheet_decides_type_by_type():
    choices = per_type(mos(50) + [("SalesOrderRow", 1, 1)] * 3 + [("Production", 1, 1)])
    plan = ListingPlan("apply", (choose(choices[MO], 400, 2), choose(choices["SalesOrderRow"], 90_000, 360),
                                 choices["Production"]))
    assert [t.listing for t in plan.types] == [Listing.TYPE_WIDE, Listing.PER_RESOURCE, Listing.PER_RESOURCE]
    assert plan.requests == (2 * 2 + 2 * 2 + 50) + (1 + 3 * 3) + 3
    assert plan.listing("Production") is Listing.PER_RESOURCE and plan.listing(MO) is Listing.TYPE_WIDE
    assert plan.as_dict()["SalesOrderRow"] == {"listing": "per_resource", "resources": 3, "type_records": 90_000,
                                               "type_pages": 360, "requests": 10}


def test_the_estimate_names_the_listing_of_each_type():
    plan = ListingPlan("apply", (choose(per_type(mos(200))[MO], 1600, 7),
                                 choose(per_type([("SalesOrderRow", 1, 1)] * 2)["SalesOrderRow"], 9000, 36)))
    assert plan.describe() == [
        "ManufacturingOrder: 200 resources, listed whole (7 pages of its 1,600 serials in the tenant, before and after)",
        "SalesOrderRow: 2 resources, listed one by one; the whole type is 9,000 serials, 36 pages",
    ]


def test_a_preview_plan_costed_for_its_apply():
    preview = ListingPlan("preview", (choose(per_type(mos(200))[MO], 1600, 7),))
    assert preview.requests == 2 * 7
    assert preview.in_mode("apply").requests == 2 * 7 + 2 * 7 + 200


def test_the_plan_before_any_probe_counts_the_probes_it_may_make(tmp_path):
    import sn_importer as sn

    path = tmp_path / "in.csv"
    path.write_text("resource_type,resource_id,serial_id\n" + "".join(f"MO,{r},{r}\n" for r in range(1, 4))
                    + "SO row,5001,9\n")
    plan = sn.read(path).plan_detail
    assert plan.api_requests() == 3 * 3 + 1 + 3  # MOs one by one + their probe; the one SalesOrderRow
    assert plan.api_requests(with_delete=False) == 3 + 1 + 1
