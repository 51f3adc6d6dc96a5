"""``sn-importer preview FILE``: everything apply does except DELETE."""

from __future__ import annotations

from ..status import Mode
from .common import (BaseUrlOpt, EnvFileOpt, FileArg, JsonOpt, MaxWaitOpt, OutputOpt, QuotaShareOpt, SandboxOpt,
                     SeedOpt, StallOpt, TemplateOpt, friendly, remote)


@friendly
def preview(file: FileArg, template: TemplateOpt = None, output: OutputOpt = None, as_json: JsonOpt = False,
            sandbox: SandboxOpt = False, sandbox_seed: SeedOpt = None, base_url: BaseUrlOpt = None,
            max_wait: MaxWaitOpt = None, stall: StallOpt = 120.0, quota_share: QuotaShareOpt = None,
            env_file: EnvFileOpt = None) -> None:
    """Read-only against Katana: everything apply does except DELETE. Rows become planned or not_on_resource."""
    remote(Mode.PREVIEW, file, template, output, as_json, sandbox, sandbox_seed, base_url, max_wait=max_wait,
           stall=stall, quota_share=quota_share, env_file=env_file)
