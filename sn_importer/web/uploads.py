"""Uploads: what the page takes, where it keeps it, and how it reads it.

An upload is accepted by its name's ending, from the one formats table
(:mod:`sn_importer.formats`: which endings the page takes, what their first
bytes must be), stored under a server-chosen folder (``web/uploads/<run
id>/``, the operator's alone) under the person's own name made safe, held to
the size limit, and read in the limited worker (:mod:`.parse_worker`: the
input guard, the reader, validation, the plan). Every refusal is a plain
sentence naming the file as the person knows it, never the stored path.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from starlette.datastructures import UploadFile

from .. import formats
from ..errors import InputError, SnImporterError
from ..filesafety import private_file
from ..template import load_template
from . import check_worker
from .parse_worker import WorkerStopped, read_upload
from .runs import Run, new_id

if TYPE_CHECKING:
    from .server import Server

log = logging.getLogger("sn_importer.web")

#: What the page accepts (from the one formats table): the name's ending → the ending of the stored copy.
ACCEPTED = {s: f.suffix for f in formats.FORMATS if f.web for s in f.suffixes}
#: The longest file name shown; a longer one is cut in its middle, its extension kept.
NAME_LIMIT = 120
#: The longest stem of a stored copy's name (the folder around it is server-chosen).
STORED_STEM_LIMIT = 80


class UploadRefused(Exception):
    """The upload is not a sheet this page takes; the message says why in plain words."""


class UploadTooLarge(UploadRefused):
    """The stored file is over the limit (answered with 413, like a body over it)."""


def too_large(limit: int) -> str:
    """The one refusal of every too-large upload, however it was noticed."""
    size = f"{limit // 2**20} MB" if limit % 2**20 == 0 else f"{limit / 2**20:.1f} MB"
    return f"The upload is larger than {size}, the most this server takes."


def _base_name(filename: str | None) -> str:
    """The file's own name, without any folder a browser sent and without unprintable characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable()).strip()


def display_name(filename: str | None) -> str:
    """The file's own name, shortened for display only: a long one keeps its extension."""
    name = _base_name(filename) or "upload"
    if len(name) <= NAME_LIMIT:
        return name
    suffix = PurePosixPath(name).suffix
    suffix = suffix if len(suffix) <= 8 else ""
    return name[: NAME_LIMIT - len(suffix) - 1] + "…" + suffix


def stored_suffix(filename: str | None) -> str:
    """The stored copy's ending, from the name's own extension (looked at before any shortening)."""
    suffix = PurePosixPath(_base_name(filename).lower()).suffix
    if suffix not in ACCEPTED:
        raise UploadRefused(f"“{display_name(filename)}” is not a sheet this page reads: "
                            f"upload an {formats.describe(web_only=True)}.")
    return ACCEPTED[suffix]


def stored_name(filename: str | None, suffix: str) -> str:
    """The name of the stored copy inside its server-chosen folder: the person's own stem, made safe.

    A CSV's one sheet is named after its file, so keeping the stem keeps the
    page's, the workbook tab's and the Summary's sheet name the person's own.
    Only letters, digits and a few marks survive; no name can climb out of
    its folder or hide (no leading dot).
    """
    stem = PurePosixPath(_base_name(filename)).stem
    safe = "".join(c if c.isalnum() or c in " ._-()&+,'" else "_" for c in stem)
    safe = safe.strip(" .")[:STORED_STEM_LIMIT].strip(" .")
    return (safe or "upload") + suffix


def check_upload(path: Path, suffix: str) -> None:
    """Refuse (UploadRefused) an empty file, or a file named as text whose bytes are not text
    (the formats table's :func:`~sn_importer.formats.sniff` says what they are).

    Workbooks are judged by the input guard in the parse worker (zip directory,
    inflated size, DTDs, how far the sheets reach), with the same sentences as
    the command line.
    """
    with open(path, "rb") as handle:
        head = handle.read(65536)
    found = formats.sniff(head)
    if found == "empty":
        raise UploadRefused("The file is empty.")
    if formats.for_name("x" + suffix).container != "text" or found == "text":
        return
    if found == "zip":
        raise UploadRefused("The file is named .csv but is an Excel workbook. Upload it with its .xlsx name.")
    raise UploadRefused("The file is named .csv but is not text. Save it from Excel as CSV, or upload the .xlsx.")


def accept(server: "Server", file: UploadFile, template: str) -> Run:
    """Store the upload in a server-chosen folder, check its content, read it: a new run."""
    filename = display_name(file.filename)
    suffix = stored_suffix(file.filename)
    run_id = new_id()
    folder = server.uploads / run_id
    target = folder / stored_name(file.filename, suffix)
    folder.mkdir(mode=0o700)
    try:
        _store(file, target, server.settings.max_upload_bytes)
        check_upload(target, suffix)
        chosen = load_template(server.settings.templates[template])
        check_worker.warm()  # the check's process is forked by then
        read = read_upload(target, chosen, filename)
        _check_rows(read.counts, filename)
    except UploadRefused:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    except WorkerStopped as exc:  # out of memory or time: that one upload is refused
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadRefused(str(exc)) from None
    except SnImporterError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise UploadRefused(_plain(exc, target, filename)) from None
    except Exception as exc:  # the reader met something no check foresaw: refuse, stay up
        shutil.rmtree(folder, ignore_errors=True)
        log.warning("upload %s could not be read: %r", filename, exc)
        raise UploadRefused(f"“{filename}” could not be read as a spreadsheet ({type(exc).__name__}). "
                            "Open it in Excel, save it again and upload the new copy.") from None
    run = Run(id=run_id, filename=filename, template=template, upload=target, sheet=read.job,
              template_read=chosen, fingerprint=read.fingerprint, created=server.settings.clock.now())
    run.view = read.view
    return server.registry.add(run)


def _check_rows(counts: dict, filename: str) -> None:
    """A sheet with headers but no rows under them is refused: there is nothing to check."""
    if not counts:
        raise UploadRefused(f"“{filename}” has the headers but no rows under them: there is nothing to check. "
                            "Fill in one row per serial number and upload it again.")


def _store(file: UploadFile, target: Path, limit: int) -> None:
    file.file.seek(0)
    with open(private_file(target), "wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)
    if target.stat().st_size > limit:
        target.unlink()
        raise UploadTooLarge(too_large(limit))


def _plain(exc: SnImporterError, stored: Path, filename: str) -> str:
    """A library message names the stored copy; the person knows the file by its own name."""
    if isinstance(exc, InputError):
        where = f" (sheet “{exc.sheet}”)" if exc.sheet else ""
        message = f"“{filename}”{where}: {exc.problem}"
    else:
        message = str(exc)
    return message.replace(str(stored), f"“{filename}”").replace(str(stored.parent), "the upload")


__all__ = ["ACCEPTED", "UploadRefused", "UploadTooLarge", "accept", "check_upload", "display_name", "stored_name",
           "stored_suffix", "too_large"]
