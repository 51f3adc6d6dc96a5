"""The undo's truth rules: what a removed record's status is, given trusted lists and POST answers.

Pure functions over records (no network, no journal, no clock), in the style
of :mod:`sn_importer.truth`; the runner lists and sends, and asks these rules
what the lists prove:

* **Before any POST** (:func:`decide`): a record whose serial string is on
  its resource now is ``already_there`` (nothing is sent); one whose type
  Katana's POST does not accept is ``cannot_restore``; the rest are to be
  sent, one string per serial (several records of one serial on one resource
  are one string), or ``planned`` in a preview.
* **After the POST** (:func:`verdict`): a record is ``restored`` only when a
  trusted list after shows its serial on the resource; Katana's answer
  (``successful``, ``failed`` with a reason, a refusal) is reported in the
  message, never trusted alone. Not there: ``not_restored``, with Katana's
  reason when it gave one.
* **A POST may land late** (:func:`awaited`): a serial Katana said it put
  back, or whose POST got no answer, and that is not listed yet, is listed
  again with backoff before anything is concluded or sent again; only a POST
  that got no answer is ever sent again (:func:`resendable`).
* **A list after is suspect** (:func:`suspicion`) when a record that was on
  the resource before is missing from it: it is read again until two agree.
* Where the truth could not be read, records whose POST went out are
  ``unverified`` and the rest ``skipped`` (:func:`unsettled`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..mapping import UNDO_COLUMNS
from ..resource_types import BY_NAME, staff_label, staff_resource
from ..status import Status
from .records import Wanted

Resource = tuple[str, int]

#: The columns an undo adds right of each removed record's (the report's, the rows frame's):
#: :data:`~sn_importer.mapping.UNDO_COLUMNS`, where a report fed back in is known by them.
#: What a POST answered for one serial string: ``successful``, ``failed`` (Katana named a reason),
#: ``refused`` (the whole POST got a 4xx), ``unknown`` (no answer: it may have landed), ``not_sent``.
SUCCESSFUL, FAILED, REFUSED, UNKNOWN, NOT_SENT = "successful", "failed", "refused", "unknown", "not_sent"
#: Answers after which the serial may still appear on the resource.
MAY_LAND = frozenset({SUCCESSFUL, UNKNOWN})


@dataclass(frozen=True)
class Found:
    """One removed record's result: status, message, the serial's record id on the resource now
    (``new_id``), the request that carried it, and when Katana was checked."""

    status: Status
    message: str = ""
    new_id: int | None = None
    request: str = ""
    checked_at: str = ""

    def to_json(self) -> list:
        return [self.status.value, self.message, self.new_id, self.request, self.checked_at]

    @classmethod
    def from_json(cls, value: list) -> Found:
        status, message, new_id, request, checked_at = value
        return cls(Status(status), message or "", None if new_id is None else int(new_id), request or "",
                   checked_at or "")


@dataclass(frozen=True)
class Answer:
    """What a POST answered for one serial string, and the request that carried it."""

    kind: str
    detail: str = ""
    request: str = ""
    #: The run that sent it, when it was an interrupted attempt of this undo (for messages).
    resumed: bool = False


@dataclass
class Decided:
    """A resource's records before any POST: outcomes for those settled now, and the serial
    strings to send (each with its records, in order)."""

    outcomes: dict[int, Found] = field(default_factory=dict)
    to_send: dict[str, list[Wanted]] = field(default_factory=dict)


@dataclass(frozen=True)
class Earlier:
    """A record an earlier, finished undo of the same records put back."""

    found: Found
    run_id: str


def present(listed: list[dict]) -> dict[str, int]:
    """Serial string → its record id on the resource (the first listed)."""
    found: dict[str, int] = {}
    for record in listed:
        found.setdefault(str(record["serial_number"]), int(record["id"]))
    return found


def decide(res: Resource, wanted: list[Wanted], listed: list[dict], *, preview: bool, stamp: str,
           earlier: dict[int, Earlier] | None = None, chunk: int = 100,
           sent: dict[str, Answer] | None = None) -> Decided:
    """Which records are there already (or put back by the POST of an interrupted attempt of this
    undo, ``sent``), which cannot be put back, which are to be sent."""
    on = present(listed)
    creatable = BY_NAME[res[0]].creatable
    decided = Decided()
    for w in wanted:
        if w.serial in on and (sent or {}).get(w.serial, Answer(NOT_SENT)).kind in MAY_LAND:
            decided.outcomes[w.position] = _landed(w, on[w.serial], sent[w.serial], stamp)
        elif w.serial in on:
            decided.outcomes[w.position] = Found(Status.ALREADY_THERE, _there_note(w, on[w.serial], earlier),
                                                 on[w.serial], "", stamp)
        elif not creatable:
            decided.outcomes[w.position] = Found(Status.CANNOT_RESTORE, cannot_post(res), None, "", stamp)
        else:
            decided.to_send.setdefault(w.serial, []).append(w)
    if preview:
        labels = request_labels(res, list(decided.to_send), chunk)
        for serial, records in decided.to_send.items():
            for w in records:
                decided.outcomes[w.position] = Found(Status.PLANNED, _would(res, w), None, labels[serial], stamp)
    return decided


def cannot_post(res: Resource) -> str:
    return (f"Katana does not take serial numbers back onto a {staff_label(res[0]).lower()} through its API, so "
            f"undo cannot put it back on {staff_resource(*res)}; nothing was sent (re-attach it in Katana's screens)")


def _there_note(w: Wanted, new_id: int, earlier: dict[int, Earlier] | None) -> str:
    before = earlier.get(w.position) if earlier else None
    if before and before.found.status == Status.RESTORED:
        return (f"put back on {before.found.checked_at} by undo run {before.run_id}; still on the resource, "
                "nothing sent")
    return "on the resource already; nothing sent" + _ids(w.old_id, new_id)


def _would(res: Resource, w: Wanted) -> str:
    if BY_NAME[res[0]].mints:
        return f"not on {staff_resource(*res)} now; undo would POST it, minting a new record of it"
    return (f"not on {staff_resource(*res)} now; undo would POST it, moving the existing serial onto it "
            "(Katana refuses a serial it no longer knows)")


def request_labels(res: Resource, serials: list[str], chunk: int, again: bool = False) -> dict[str, str]:
    """Each serial's POST: ``POST ManufacturingOrder 3001 (1/2)``."""
    chunk = max(1, chunk)
    total = max(1, -(-len(serials) // chunk))
    tail = ", sent again" if again else ""
    return {s: f"POST {res[0]} {res[1]} ({i // chunk + 1}/{total}{tail})" for i, s in enumerate(serials)}


def answers_of(body: object, serials: list[str], request: str) -> dict[str, Answer]:
    """A POST's 200 answer per serial string: in ``successful``, in ``failed`` (with its reason), or
    in neither (the answer is not understood: it may have landed)."""
    body = body if isinstance(body, dict) else {}
    done = {str(r.get("serial_number")) for r in body.get("successful") or [] if isinstance(r, dict)}
    failed = {str(f.get("serial_number")): str(f.get("reason") or "no reason given")
              for f in body.get("failed") or [] if isinstance(f, dict)}
    return {s: Answer(SUCCESSFUL, "", request) if s in done else Answer(FAILED, failed[s], request)
            if s in failed else Answer(UNKNOWN, "Katana's answer did not name it", request) for s in serials}


def awaited(answers: dict[str, Answer], listed: list[dict]) -> set[str]:
    """Serials that may still land (answered successful, or no answer) and are not listed yet."""
    on = present(listed)
    return {s for s, a in answers.items() if a.kind in MAY_LAND and s not in on}


def resendable(serials: list[str], answers: dict[str, Answer], listed: list[dict]) -> list[str]:
    """Serials to send now: never sent by this run, or sent without an answer and still absent after
    the wait for a late landing (a serial Katana answered for is never sent again)."""
    on = present(listed)
    return [s for s in serials if s not in on and answers.get(s, Answer(NOT_SENT)).kind in (NOT_SENT, UNKNOWN)]


def suspicion(before: list[dict], after: list[dict]) -> str:
    """Why a list after the POST cannot be believed on its own ('' when it can): a record that was
    on the resource before (a witness, nothing took it off) is missing from it."""
    listed = {(int(r["id"]), str(r["serial_number"])) for r in after}
    missing = [r for r in before if (int(r["id"]), str(r["serial_number"])) not in listed]
    if not missing:
        return ""
    if not after:
        return "the list after the POST was empty"
    return (f"{len(missing)} serial{'s' if len(missing) != 1 else ''} that were on the resource went missing from "
            "the list after the POST")


def verdict(to_send: dict[str, list[Wanted]], answers: dict[str, Answer], listed: list[dict], stamp: str,
            stop_reason: str = "", checks: str = "") -> dict[int, Found]:
    """Each record sent (or to be sent) by what a trusted list after shows."""
    on = present(listed)
    outcomes: dict[int, Found] = {}
    for serial, records in to_send.items():
        answer = answers.get(serial, Answer(NOT_SENT))
        if serial in on:
            found = _landed(records[0], on[serial], answer, stamp)
        elif answer.kind == NOT_SENT:
            found = Found(Status.SKIPPED, f"not sent: {stop_reason or 'the run stopped'}")
        else:
            found = Found(Status.NOT_RESTORED, _absent(answer, checks), None, answer.request, stamp)
        outcomes.update(_each(records, found))
    return outcomes


def _landed(w: Wanted, new_id: int, answer: Answer, stamp: str) -> Found:
    if answer.kind == FAILED:
        return Found(Status.ALREADY_THERE, f"Katana answered {answer.detail}: it is on the resource (not by this "
                                           f"undo's POST)" + _ids(w.old_id, new_id), new_id, answer.request, stamp)
    how = "put back by the POST of an interrupted attempt" if answer.resumed else "put back"
    if answer.kind == UNKNOWN:
        how += f" (the POST got no answer: {answer.detail}; the list shows it)"
    return Found(Status.RESTORED, how + _ids(w.old_id, new_id), new_id, answer.request, stamp)


def _absent(answer: Answer, checks: str) -> str:
    if answer.kind == FAILED:
        return f"Katana refused it: {answer.detail}; not on the resource{checks}"
    if answer.kind == REFUSED:
        return f"Katana refused the POST: {answer.detail}"
    if answer.kind == SUCCESSFUL:
        return f"Katana answered that it was put back, but it is not on the resource{checks}; run undo again"
    return f"the POST got no answer ({answer.detail}) and the serial is not on the resource{checks}; run undo again"


def _each(records: list[Wanted], found: Found) -> dict[int, Found]:
    """One outcome for every record of a serial; the later ones name the first (Katana keeps one
    record of a serial string on a resource)."""
    out = {records[0].position: found}
    for w in records[1:]:
        out[w.position] = Found(found.status, _join(found.message, f"the same serial as record {records[0].position + 1}"),
                                found.new_id, found.request, found.checked_at)
    return out


def unsettled(to_send: dict[str, list[Wanted]], answers: dict[str, Answer], why: str, stamp: str = "",
              checked: bool = True) -> dict[int, Found]:
    """The check after could not be made (``checked``) or was not reached: records whose POST went
    out are ``unverified``, the rest were never sent (``skipped``)."""
    outcomes: dict[int, Found] = {}
    for serial, records in to_send.items():
        answer = answers.get(serial, Answer(NOT_SENT))
        if answer.kind == NOT_SENT:
            found = Found(Status.SKIPPED, f"not sent: {why}")
        else:
            what = "could not be made" if checked else "was not made"
            found = Found(Status.UNVERIFIED, f"POST sent; the check afterwards {what}: {why}", None,
                          answer.request, stamp)
        outcomes.update(_each(records, found))
    return outcomes


def _ids(old: int | None, new: int) -> str:
    if old is None or old == new:
        return f"; record id {new}"
    return f"; record id {new} (was {old})"


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


__all__ = ["Answer", "Decided", "Earlier", "FAILED", "Found", "MAY_LAND", "NOT_SENT", "REFUSED", "SUCCESSFUL",
           "UNDO_COLUMNS", "UNKNOWN", "answers_of", "awaited", "cannot_post", "decide", "present", "request_labels", "resendable",
           "suspicion", "unsettled", "verdict"]
