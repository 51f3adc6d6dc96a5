"""sn-importer: detach serial numbers from Katana MRP resources listed in a spreadsheet.

    import sn_importer as sn
    job = sn.read("serials.xlsx")      # read, map, validate, plan
    job.rows                           # every input row with status and message
    job.write()                        # the annotated copy beside the input
"""

from .errors import (
    ApiRequestError,
    ApiUnavailableError,
    AuthError,
    HeaderNotFoundError,
    InputError,
    KatanaError,
    SnImporterError,
    TemplateError,
    UsageError,
)
from .job import Job, read
from .status import Status
from .template import Template, load_template

__version__ = "0.1.0"

__all__ = [
    "ApiRequestError",
    "ApiUnavailableError",
    "AuthError",
    "HeaderNotFoundError",
    "InputError",
    "Job",
    "KatanaError",
    "SnImporterError",
    "Status",
    "Template",
    "TemplateError",
    "UsageError",
    "load_template",
    "read",
]
