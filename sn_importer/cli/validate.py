"""``sn-importer validate FILE``: offline read, validate and plan; never touches the network."""

from __future__ import annotations

from .common import FileArg, JsonOpt, OutputOpt, TemplateOpt, finish, friendly, prove_output


@friendly
def validate(file: FileArg, template: TemplateOpt = None, output: OutputOpt = None, as_json: JsonOpt = False) -> None:
    """Offline: read, validate and plan FILE, and write the annotated copy. Never touches the network."""
    from .. import console
    from ..job import Job

    job = Job(file, template)
    prove_output(job, output)
    if not as_json:
        console.show_mapping(job)
        console.show_plan(job)
        for note in job.notes:
            console.err.print(note, soft_wrap=True, markup=False)
    if job.source.row_count == 0 or not job.counts():
        console.err.print("Nothing to import: the sheet has a header but no data rows.")
    finish(job.validation(), output, as_json)
