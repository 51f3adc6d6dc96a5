"""``sn-importer apply FILE``: check before, DELETE per resource, verify after, report every row."""

from __future__ import annotations

from typing import Annotated

import typer

from ..status import Mode
from .common import (BaseUrlOpt, EnvFileOpt, FileArg, JsonOpt, MaxWaitOpt, OutputOpt, QuotaShareOpt, SandboxOpt,
                     SeedOpt, StallOpt, StateOpt, TemplateOpt, friendly, remote)

FreshOpt = Annotated[bool, typer.Option("--fresh", help="Start over instead of resuming an unfinished run of the same file.")]
RecheckOpt = Annotated[float, typer.Option(
    "--recheck", metavar="SECONDS", min=0,
    help="How long a serial still listed after its DELETE is checked again (with backoff) before it is "
         "reported still_present: a DELETE may take effect late.")]


@friendly
def apply(file: FileArg, template: TemplateOpt = None, output: OutputOpt = None, as_json: JsonOpt = False,
          sandbox: SandboxOpt = False, sandbox_seed: SeedOpt = None, base_url: BaseUrlOpt = None,
          state_dir: StateOpt = None, fresh: FreshOpt = False, max_wait: MaxWaitOpt = None,
          stall: StallOpt = 120.0, quota_share: QuotaShareOpt = None,
          env_file: EnvFileOpt = None, recheck: RecheckOpt = 15.0) -> None:
    """Detach the serials listed in FILE: check before, DELETE per resource, verify after, report every row."""
    remote(Mode.APPLY, file, template, output, as_json, sandbox, sandbox_seed, base_url, state_dir, fresh,
           max_wait, stall, quota_share, env_file, recheck=recheck)
