"""Import websockets without what a plain ``ws://`` client never uses.

``websockets/__init__.py`` imports ``websockets.version``, which imports ``importlib.metadata``
(and with it ``email``, ``zipfile``, ``csv``: about 2.5 MB of RSS) only to describe unreleased
checkouts. A released websockets states its version as literals in that file, so we seed
``websockets.version`` from them before the package is first imported; for anything else (a
development checkout, a file we do not recognise, websockets already imported) the package is
imported as usual.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path

__all__ = ["seed_websockets_version"]

_RELEASED = re.compile(r"^released = True$", re.MULTILINE)
_VERSION = re.compile(r'^tag = version = commit = "([0-9A-Za-z.+-]+)"$', re.MULTILINE)


def seed_websockets_version() -> None:
    """Put a released websockets' ``version`` module in place without importlib.metadata."""
    if "websockets" in sys.modules or "websockets.version" in sys.modules:
        return
    spec = importlib.util.find_spec("websockets")
    if spec is None or not spec.submodule_search_locations:
        return
    path = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        return
    found = _VERSION.search(source)
    if found is None or _RELEASED.search(source) is None:
        return
    module = types.ModuleType("websockets.version")
    module.__file__ = str(path)
    module.__all__ = ["tag", "version", "commit"]  # type: ignore[attr-defined]
    module.released = True  # type: ignore[attr-defined]
    module.tag = module.version = module.commit = found.group(1)  # type: ignore[attr-defined]
    sys.modules["websockets.version"] = module
