"""Import the pure-Python standard library so that it lives in the guest snapshot.

componentize-py snapshots the interpreter after the app's top-level imports, and only what was
imported then exists at run time: an env that does `import heapq` inside a method, or calls
`datetime.strptime` (which imports `_strptime` lazily), would fail otherwise. We walk
`sys.stdlib_module_names` and every submodule of the packages among them.
"""

import importlib
import pkgutil
import sys

# Modules that act when imported (open a browser, print, start a GUI), that exist for other
# platforms or for CPython's own test suite, or that make no sense without a host OS.
_SKIP_PREFIXES = (
    "antigravity",
    "this",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "test",
    "ensurepip",
    "venv",
    "lib2to3",
    "pydoc_data",
    "msvcrt",
    "winreg",
    "winsound",
    "nt",
    "_winapi",
    "_wmi",
    "__phello__",
    "_test",
    "_xx",
    "xx",
    "_pyrepl",
    "_ios_support",
    "_android_support",
    "_apple_support",
)
_SKIP_PARTS = {"tests", "test", "__main__", "idle_test"}

imported: list[str] = []
failed: list[str] = []


def _skip(name: str) -> bool:
    top = name.split(".", 1)[0]
    if any(top == p or top.startswith(p + "_") or top == p.rstrip("_") for p in _SKIP_PREFIXES):
        return True
    if top.startswith(("_test", "_xx")):
        return True
    return any(part in _SKIP_PARTS for part in name.split(".")[1:])


def _try_import(name: str):
    try:
        module = importlib.import_module(name)
    except BaseException:  # unavailable on WASI (no _socket, no _ctypes, ...): leave it out
        failed.append(name)
        return None
    imported.append(name)
    return module


for _top in sorted(sys.stdlib_module_names):
    if _skip(_top):
        continue
    _module = _try_import(_top)
    _path = getattr(_module, "__path__", None)
    if _path is None:
        continue
    for _info in pkgutil.walk_packages(_path, prefix=_top + ".", onerror=lambda _name: None):
        if not _skip(_info.name):
            _try_import(_info.name)

# The env host's own stand-ins for third-party packages that env sources import.
import gymnasium  # noqa: E402,F401
import gymnasium.spaces  # noqa: E402,F401
