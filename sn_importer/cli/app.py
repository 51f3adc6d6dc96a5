"""The ``sn-importer`` application: every command, registered here by name."""

from __future__ import annotations

import typer

from . import apply, preview, sandbox, serve, template, validate, watch

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Detach serial numbers from Katana MRP resources listed in a spreadsheet, and verify every row.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.command("validate")(validate.validate)
app.command("preview")(preview.preview)
app.command("apply")(apply.apply)
app.command("sandbox")(sandbox.sandbox)
app.command("template")(template.template_sheet)
app.command("watch")(watch.watch)
app.command("serve")(serve.serve)


def main() -> None:
    app(prog_name="sn-importer")
