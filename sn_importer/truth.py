"""The truth rules: what a row's status is, given trusted lists before and after its DELETE.

Pure functions over records (no network, no frames, no clock): the engine
reads the lists and sends the DELETEs, and asks these rules what the lists
prove. They are the product's promise, so they are kept apart and small:

* **Before any DELETE** (:func:`resolve`): a row names a serial by id or by
  string; it is *confirmed* when a record of that serial is on the resource.
  A serial string on the resource more than once means "this serial off this
  resource": every one of its records is sent. A row whose serial is not
  there is ``not_on_resource`` (or ``deleted``, when an earlier run of the
  same file detached it, or sent it and saw it stay, and it is gone now);
  the same serial twice on a resource is a ``duplicate`` of the first row.
  A preview tells a row an unfinished apply of the file took off (its
  journal's plan, :class:`Unfinished`) from one whose serial was never there.
* **After the DELETE** (:func:`verdict`): a row is ``deleted`` only when none
  of its records is listed; still listed, it is ``still_present`` if it was
  sent, ``failed`` if its DELETE failed, ``skipped`` if the run stopped before
  sending it.
* **A list after is suspect** (:func:`suspicion`) when a record that was not
  sent (a *witness*) is missing from it, or when it is empty while the list
  before was not: the engine reads it again before concluding anything.
* Where the truth could not be read, rows whose DELETE went out are
  ``unverified`` and the rest ``skipped`` (:func:`unsettled`), never a false
  ``deleted``, ``not_on_resource`` or ``still_present``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .outcome import Cause, Outcome, Outcomes
from .status import Status


@dataclass(frozen=True)
class Ask:
    """What one row asks: its position, where it is (for messages), and the serial it names."""

    position: int
    row: int
    sheet: str
    serial_id: int | None
    serial: str | None

    def where(self, reader_sheet: str | None, one_sheet: bool) -> str:
        """'row 5', or 'row 5 of sheet X' when the reader may be looking at another sheet."""
        if one_sheet or reader_sheet == self.sheet:
            return f"row {self.row}"
        return f"row {self.row} of sheet '{self.sheet}'"


@dataclass(frozen=True)
class Earlier:
    """What an earlier, finished run of the same file did with a row: detached it (and saw it
    gone), or sent it and saw it stay. ``record`` is the serial's record as it was before."""

    serial_id: int | None
    checked_at: str
    run_id: str
    cause: Cause = Cause.VERIFIED
    record: dict | None = None


@dataclass(frozen=True)
class Unfinished:
    """What the unfinished apply of the same file recorded for a resource before its first DELETE: the
    records then on it and the ids it set out to detach. A preview tells the rows that run took off
    from rows whose serial was never there (an apply resumes the run instead)."""

    run_id: str
    started_at: str
    before: list[dict]
    planned: frozenset[int]

    def took(self, ask: Ask, now_listed: set[int]) -> bool:
        """The row's serial was on the resource when the run started, the run set out to detach it, and
        it is gone now."""
        ids = {int(r["id"]) for r in self.before if (int(r["id"]) == ask.serial_id if ask.serial_id is not None
                                                      else str(r["serial_number"]) == ask.serial)}
        return bool(ids) and ids <= self.planned and not ids & now_listed


@dataclass
class Resolved:
    """A resource's rows before its DELETE: the confirmed ones (position → the ids of their
    serial's records on it), outcomes for the rest, notes for confirmed rows, and records an
    earlier run's late DELETE took off (for the Removed audit)."""

    confirmed: dict[int, tuple[int, ...]] = field(default_factory=dict)
    outcomes: Outcomes = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)
    removed: list[dict] = field(default_factory=list)


def resolve(name: str, asks: list[Ask], before: list[dict], now_listed: set[int], *, apply: bool,
            earlier: dict[int, Earlier], stamp: str, one_sheet: bool = True,
            unfinished: Unfinished | None = None) -> Resolved:
    """Which rows name a serial that is on the resource; outcomes for the rest.

    ``before`` are the records the run started from (the journal's, when it
    resumes), ``now_listed`` the ids listed on the resource now; ``unfinished``
    (a preview's) what an unfinished apply of the file set out to detach here."""
    by_id = {int(r["id"]): r for r in before}
    by_serial: dict[str, list[dict]] = {}
    for record in before:
        by_serial.setdefault(str(record["serial_number"]), []).append(record)
    padded, near = _zero_padded(by_serial), _near_serials(by_serial)
    found = Resolved()
    seen: dict[int, Ask] = {}
    for ask in asks:
        records = ([by_id[ask.serial_id]] if ask.serial_id in by_id else []) if ask.serial_id is not None \
            else by_serial.get(ask.serial or "", [])
        if not records and ask.serial and ask.serial_id is not None and by_serial.get(ask.serial):
            others = ", ".join(str(r["id"]) for r in by_serial[ask.serial])
            found.outcomes[ask.position] = Outcome(
                Status.INVALID, f"serial id {ask.serial_id} is not on {name}, but serial {ask.serial!r} is, as record "
                                f"{others} (put back under a new id, or a mistyped id): the two disagree, so nothing "
                                f"was sent; give the id on {name} or the serial alone", ask.serial_id, stamp)
        elif not records and (back := _back(earlier.get(ask.position), by_serial)):
            found.outcomes[ask.position] = Outcome(
                Status.NOT_ON_RESOURCE, f"serial id {ask.serial_id} was detached on {back[0].checked_at} by run "
                                        f"{back[0].run_id}, but its serial {back[1]!r} is on {name} again, as record "
                                        f"{back[2]} (put back by an undo?): nothing was sent; to detach it again, give "
                                        f"the serial number or the new id", ask.serial_id, stamp)
        elif not records and unfinished and unfinished.took(ask, now_listed):
            found.outcomes[ask.position] = Outcome(
                Status.NOT_ON_RESOURCE, f"{_what(ask)} is not on {name} now: detached by the unfinished apply run "
                                        f"{unfinished.run_id} started {unfinished.started_at}; apply this file "
                                        "again to finish that run", ask.serial_id, stamp)
        elif not records:
            hint = (_zeros_hint(ask.serial, padded) or _near_hint(ask.serial, near)) if ask.serial_id is None else ""
            _absent(found, name, ask, now_listed, apply, earlier.get(ask.position), stamp, hint, one_sheet)
        elif ask.serial and ask.serial_id is not None and records[0]["serial_number"] != ask.serial:
            found.outcomes[ask.position] = Outcome(
                Status.INVALID, f"serial_id {ask.serial_id} is serial {records[0]['serial_number']!r} on {name}, "
                                f"not {ask.serial!r}", ask.serial_id, stamp)
        elif any(int(r["id"]) in seen for r in records):
            first = next(seen[int(r["id"])] for r in records if int(r["id"]) in seen)
            found.outcomes[ask.position] = Outcome(
                Status.DUPLICATE, "the same serial on the same resource is already in "
                                  f"{first.where(ask.sheet, one_sheet)}", int(records[0]["id"]))
        else:
            ids = tuple(int(r["id"]) for r in records)
            seen.update({i: ask for i in ids})
            found.confirmed[ask.position] = ids
            if len(ids) > 1:
                found.notes[ask.position] = (f"{len(ids)} records of serial {ask.serial!r} are on {name} "
                                             f"(ids {', '.join(map(str, ids))}): each one is sent")
    return found


def _back(earlier: Earlier | None, by_serial: dict[str, list[dict]]) -> tuple[Earlier, str, str] | None:
    """An earlier run detached the row's record, and its serial is on the resource again under
    another id (an undo mints new records): (what the earlier run did, the serial, the ids now)."""
    serial = str((earlier.record or {}).get("serial_number") or "") if earlier else ""
    again = [int(r["id"]) for r in by_serial.get(serial, []) if int(r["id"]) != earlier.serial_id] if serial else []
    return (earlier, serial, ", ".join(map(str, again))) if again else None


def _absent(found: Resolved, name: str, ask: Ask, now_listed: set[int], apply: bool, earlier: Earlier | None,
            stamp: str, hint: str, one_sheet: bool) -> None:
    """A row whose serial the list before did not show: detached by an earlier run of this file
    (its DELETE verified, or landing after its check), or not on the resource. A preview says
    which earlier run took it off; only an apply records it as ``deleted``."""
    if not apply and earlier and earlier.serial_id not in now_listed:
        late = earlier.cause == Cause.SENT_STILL_THERE
        found.outcomes[ask.position] = Outcome(
            Status.NOT_ON_RESOURCE,
            f"{_what(ask)} is not on {name} now: " + (
                f"the DELETE run {earlier.run_id} sent took effect after its check on {earlier.checked_at}; "
                "apply this file again to record it as detached" if late else
                f"detached on {earlier.checked_at} by run {earlier.run_id}, an apply of this file"),
            earlier.serial_id, stamp)
        return
    if apply and earlier and earlier.serial_id not in now_listed:
        if earlier.cause == Cause.SENT_STILL_THERE:
            found.outcomes[ask.position] = Outcome(
                Status.DELETED, f"confirmed on re-run: the DELETE run {earlier.run_id} sent took effect after its "
                                f"check on {earlier.checked_at}", earlier.serial_id, stamp, Cause.LANDED_LATE)
            if earlier.record:
                found.removed.append({**earlier.record, "sheet_rows": ask.where(None, one_sheet)})
        else:
            found.outcomes[ask.position] = Outcome(
                Status.DELETED, f"detached on {earlier.checked_at} by run {earlier.run_id}; still absent now",
                earlier.serial_id, stamp, Cause.EARLIER_RUN)
        return
    found.outcomes[ask.position] = Outcome(
        Status.NOT_ON_RESOURCE, f"{_what(ask)} is not on {name} (checked before any delete; nothing sent){hint}",
        ask.serial_id, stamp)


def _what(ask: Ask) -> str:
    """The serial a row names, as its messages say it."""
    return f"serial id {ask.serial_id}" if ask.serial_id is not None else f"serial {ask.serial!r}"


def planned(found: Resolved, stamp: str) -> Outcomes:
    """A preview's outcomes for the confirmed rows: each would be detached."""
    return {p: Outcome(Status.PLANNED, found.notes.get(p, ""), ids[0], stamp) for p, ids in found.confirmed.items()}


def suspicion(before: list[dict], sent: set[int], after: list[dict]) -> str:
    """Why a list after the DELETE cannot be believed on its own ('' when it can)."""
    listed = {int(r["id"]) for r in after}
    witnesses = [r for r in before if int(r["id"]) not in sent]
    missing = [r for r in witnesses if int(r["id"]) not in listed]
    if missing:
        return (f"{len(missing)} serial{'s' if len(missing) != 1 else ''} that were not sent went missing from the "
                "list after the DELETE")
    if before and not after:
        return "the list after the DELETE was empty"
    return ""


@dataclass(frozen=True)
class Sending:
    """What went out for a resource: the ids sent, DELETE errors by id, and (on a resumed attempt)
    the ids this attempt was to send."""

    sent: frozenset[int]
    errors: dict[int, str]
    resumed_to_send: frozenset[int] | None = None


def verdict(confirmed: dict[int, tuple[int, ...]], notes: dict[int, str], sending: Sending, after_ids: set[int],
            stamp: str, stop_reason: str, checks: str = "") -> Outcomes:
    """Each confirmed row by what a trusted list after the DELETE shows."""
    outcomes: Outcomes = {}
    for position, ids in confirmed.items():
        listed = [i for i in ids if i in after_ids]
        note = notes.get(position, "")
        if not listed:
            resumed = sending.resumed_to_send is not None and not set(ids) & sending.resumed_to_send
            outcomes[position] = Outcome(
                Status.DELETED, _join("gone at the check after an interrupted attempt" if resumed else "", note),
                ids[0], stamp, Cause.RESUMED if resumed else Cause.VERIFIED)
        elif not set(listed) & sending.sent:
            outcomes[position] = _unsent(ids[0], stop_reason)
        elif any(i in sending.errors for i in listed):
            error = next(sending.errors[i] for i in listed if i in sending.errors)
            outcomes[position] = Outcome(Status.FAILED, f"DELETE failed: {error}", ids[0], stamp)
        else:
            part = f"{len(listed)} of its {len(ids)} records are" if len(ids) > 1 else "the serial is"
            outcomes[position] = Outcome(
                Status.STILL_PRESENT, _join(f"DELETE was answered 204 but {part} still on the resource{checks}", note),
                ids[0], stamp, Cause.SENT_STILL_THERE)
    return outcomes


def unsettled(confirmed: dict[int, tuple[int, ...]], sending: Sending, why: str, stamp: str = "") -> Outcomes:
    """The check after could not be made: rows whose DELETE went out are ``unverified``, a failed
    DELETE is ``failed``, the rest were never sent."""
    outcomes: Outcomes = {}
    for position, ids in confirmed.items():
        if not set(ids) & sending.sent:
            outcomes[position] = _unsent(ids[0], why)
        elif any(i in sending.errors for i in ids):
            outcomes[position] = Outcome(Status.FAILED, f"DELETE failed: {sending.errors[_first(ids, sending)]}",
                                         ids[0], stamp)
        else:
            outcomes[position] = Outcome(Status.UNVERIFIED, f"DELETE sent; the check afterwards failed: {why}",
                                         ids[0], stamp)
    return outcomes


def stopped(positions: list[int], confirmed: dict[int, tuple[int, ...]], sent: set[int], reason: str) -> Outcomes:
    """Rows of a resource the run did not finish: ``unverified`` where their DELETE went out, else ``skipped``."""
    outcomes: Outcomes = {}
    for position in positions:
        ids = confirmed.get(position, ())
        if set(ids) & sent:
            outcomes[position] = Outcome(Status.UNVERIFIED,
                                         f"DELETE sent; the check afterwards was not made: {reason}", ids[0])
        else:
            outcomes[position] = Outcome(Status.SKIPPED, f"not reached: {reason}", ids[0] if ids else None)
    return outcomes


def removed_records(before: list[dict], outcomes: Outcomes, confirmed: dict[int, tuple[int, ...]],
                    where: dict[int, str]) -> list[dict]:
    """The records of the serials a resource's rows saw detached, as they were before (the Removed
    audit), each naming the sheet rows that asked for it."""
    asked: dict[int, list[str]] = {}
    for position, found in outcomes.items():
        if found.status == Status.DELETED and found.cause in (Cause.VERIFIED, Cause.RESUMED):
            for record_id in confirmed.get(position, (found.serial_id,)):
                asked.setdefault(record_id, []).append(where[position])
    return [{**r, "sheet_rows": ", ".join(asked[int(r["id"])])} for r in before if int(r["id"]) in asked]


def _unsent(serial_id: int | None, reason: str) -> Outcome:
    """A confirmed row whose DELETE the stop kept from going out."""
    return Outcome(Status.SKIPPED, f"not sent: {reason or 'the run stopped'}", serial_id)


def _first(ids: tuple[int, ...], sending: Sending) -> int:
    return next(i for i in ids if i in sending.errors)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _zero_padded(by_serial: dict[str, list[dict]]) -> dict[str, str]:
    """The resource's digits-only serials with leading zeros, by their digits without them."""
    return {s.lstrip("0"): s for s in by_serial if s[:1] == "0" and s.isdigit()}


def _zeros_hint(serial: str | None, padded: dict[str, str]) -> str:
    """When a zero-padded form of a missing digits-only serial is on the resource, say so and how to fix
    the column. Only the exact serial is ever sent: this is advice, not a match."""
    if not serial or not serial.isdigit():
        return ""
    found = padded.get(serial.lstrip("0"))
    if not found or found == serial:
        return ""
    return (f"; {found!r} is on it: Excel drops the leading zeros of a serial stored as a number, so format the "
            "serial column as Text, type the serial with its zeros and run again")


def _loose(serial: str) -> str:
    """A serial with its letter case and every space taken out: what a near miss shares with it."""
    return "".join(serial.split()).casefold()


def _near_serials(by_serial: dict[str, list[dict]]) -> dict[str, list[str]]:
    """The resource's serials by their loose form (from the list already read: no request)."""
    near: dict[str, list[str]] = {}
    for serial in by_serial:
        near.setdefault(_loose(serial), []).append(serial)
    return near


def _near_hint(serial: str | None, near: dict[str, list[str]]) -> str:
    """When a serial differing from a missing one only in letter case or spacing is on the resource,
    name it, so the sheet can be corrected. Katana matches serials exactly and only the exact
    serial is ever sent: this is advice, not a match."""
    if not serial:
        return ""
    found = [s for s in near.get(_loose(serial), []) if s != serial]
    if not found:
        return ""
    cased = any("".join(s.split()) != "".join(serial.split()) for s in found)
    spaced = any(s.casefold() != serial.casefold() for s in found)
    how = " and ".join(w for w, differs in (("letter case", cased), ("spacing", spaced)) if differs)
    names = ", ".join(map(repr, found))
    return (f"; {names} {'is' if len(found) == 1 else 'are'} on it, differing only in {how}: Katana matches "
            "serials exactly, so correct this row's serial and run again")


__all__ = ["Ask", "Earlier", "Resolved", "Sending", "Unfinished", "planned", "removed_records", "resolve", "stopped",
           "suspicion", "unsettled", "verdict"]
