"""The one estimate: how many requests a run needs and about how long the quota makes them take.

The command line says it before sending, the web page beside its confirm
button, and the Summary after; all three ask the tenant's
:class:`~sn_importer.katana.ledger.Ledger` (:meth:`~sn_importer.katana.ledger.Ledger.estimate_seconds`)
and word it here, so the same plan on the same tenant reads the same
everywhere. The ledger is the one every run on the host draws from (in the
state directory), so the page estimates from the window the last run learnt
and from what the other runs on the tenant still plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the ledger (and sqlite3) load with the first ledger: a check's Summary words need neither
    from .clock import Clock
    from .katana.ledger import Ledger
    from .strategy import ListingPlan


def tenant_ledger(state_dir: str | Path | None, base_url: str, api_key: str, share: float,
                  clock: Clock | None = None) -> Ledger:
    """The tenant's shared ledger, or one in memory (at the same share) when the state directory
    cannot hold it. The caller closes it."""
    import sqlite3

    from .katana.ledger import Ledger
    from .katana.quota import open_ledger

    try:
        return open_ledger(state_dir, base_url, api_key, share=share, clock=clock)
    except (OSError, sqlite3.Error):
        return Ledger(share=share, clock=clock)


def describe_wait(seconds: float) -> str:
    """How long the quota makes a run wait, in the words every front end uses."""
    if seconds < 1:
        return "no waiting"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    return f"about {seconds / 60:.0f} min"


def wait_line(seconds: float, reason: str) -> str:
    """'Waiting 54 s: Katana's quota for this window is spent; …': why a run stands still and for how
    long, in the same words on a terminal and on the web page."""
    how_long = f"{max(1, round(seconds))} s" if seconds < 90 else describe_wait(seconds).removeprefix("about ")
    return f"Waiting {how_long}: {reason}"


def waits_text(requests: dict) -> str:
    """A run's waits for the tenant's quota (its ``requests`` counters), in words for the Summary sheet."""
    waited, for_others = requests.get("waited_s", 0.0), requests.get("waited_for_other_runs_s", 0.0)
    if not waited:
        return "no waiting"
    text = f"{waited:g} s"
    if for_others:
        text += f", of which {for_others:g} s while another sn-importer run on this tenant drew from the shared budget"
    return text


def quota_words(ledger: Ledger) -> str:
    """The quota a run paces by: its share of the tenant's window, and the other runs drawing from it now."""
    limit, cap, window = ledger.quota()
    seconds = f"{round(window) if window >= 2 else window:g}"
    if ledger.share >= 1 and not ledger.shared:
        return f"{limit} requests per {seconds} s"
    words = f"{cap} of {limit} requests per {seconds} s ({ledger.share:.0%} of the tenant's quota)"
    running = ledger.others_active()
    if running:
        words += (f", shared with {running} other sn-importer run{'s' if running > 1 else ''} "
                  "on this tenant drawing from the same budget now")
    return words


def wait_text(ledger: Ledger, requests: int) -> str:
    """'about 4 min at 48 of 60 requests per 60 s (80% of the tenant's quota)'."""
    return f"{describe_wait(ledger.estimate_seconds(requests))} at {quota_words(ledger)}"


def apply_estimate(ledger: Ledger, requests: int) -> str:
    """What applying a previewed sheet costs, in the one sentence the page shows beside its confirm
    button, ``preview`` prints at its end and the preview's Summary keeps."""
    return (f"Up to {requests} request{'' if requests == 1 else 's'} in all (list before, DELETE, list after); "
            f"{wait_text(ledger, requests)}")


def run_estimate(mode: str, ledger: Ledger, plan: ListingPlan) -> str:
    """What a run will cost and how each resource type is listed, said before any write."""
    per = plan.requests / plan.resources if plan.resources else 0.0
    lines = [f"{str(mode).capitalize()}: {plan.requests} requests at most for {plan.resources} resources "
             f"({per:.2f} per resource); {wait_text(ledger, plan.requests)} "
             "(the quota Katana reports is followed once it answers)."]
    return "\n".join(lines + [f"  {line}" for line in plan.describe()])


def lookup_estimate(ledger: Ledger, lookups: int, references: int) -> str:
    """What looking up order numbers and SKUs costs, said before the first lookup."""
    return (f"First {lookups} requests at most to look up {references} resources named by order number and SKU "
            f"in Katana; {describe_wait(ledger.estimate_seconds(lookups))}.")


def undo_estimate(ledger: Ledger, requests: int, resources: int, records: int, preview: bool = False) -> str:
    """What an undo will cost, said before anything is listed or sent: a list per resource, and for
    the serials to put back a POST per chunk and a list after."""
    what = "Undo preview" if preview else "Undo"
    return (f"{what}: {requests} requests at most for {records} removed records on {resources} resources; "
            f"{wait_text(ledger, requests)} (the quota Katana reports is followed once it answers).")


__all__ = ["apply_estimate", "describe_wait", "wait_line", "lookup_estimate", "quota_words", "run_estimate", "tenant_ledger", "undo_estimate",
           "wait_text", "waits_text"]
