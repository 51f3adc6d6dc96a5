"""The ``sn-importer`` command line: a thin layer over the library.

One module per command (``validate.py``, ``preview.py``, ...), each parsing
its options, calling the library and rendering the result; ``app.py`` lists
them, ``common.py`` holds the options they share and the one way errors
become a line on stderr and exit code 2. Modules import only typer at load
time: pandas, pandera and the job are imported inside the command functions,
so ``sn-importer --help`` starts quickly.
"""

from .app import app, main

__all__ = ["app", "main"]
