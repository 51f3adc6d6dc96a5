"""The public surface: ``sn_importer.__all__`` is exactly what the package offers.

As in httpx's tests/test_exported_members.py: a name added to the package but
not to ``__all__`` (or left in ``__all__`` after it went) fails here. The
errors drawn in errors.py's docstring are exactly the classes defined there,
all under the one base.
"""

from __future__ import annotations

import inspect
import re
from types import ModuleType

import sn_importer as sn
from sn_importer import errors


def test_all_is_exactly_the_public_names():
    public = sorted(name for name in dir(sn)
                    if not name.startswith("_") and not isinstance(getattr(sn, name), ModuleType))
    assert sorted(sn.__all__) == public
    assert sn.__all__ == sorted(sn.__all__)


def test_every_exported_name_is_the_packages_own():
    for name in sn.__all__:
        value = getattr(sn, name)
        assert value.__module__.startswith("sn_importer."), (name, value.__module__)


def test_the_error_tree_is_drawn_once_and_whole():
    defined = {name for name, cls in inspect.getmembers(errors, inspect.isclass)
               if cls.__module__ == errors.__name__ and issubclass(cls, Exception)}
    tree = errors.__doc__.split("::", 1)[1]
    drawn = set(re.findall(r"^[\s│├└─]*([A-Z]\w+)\s{2,}\S", tree, re.M))
    assert drawn == defined
    for name in defined:
        assert issubclass(getattr(errors, name), errors.SnImporterError)
        assert name in sn.__all__, f"{name} is not exported"
