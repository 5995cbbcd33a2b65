"""What the manual generates from the code: the configuration table and the API reference.

Pure Python (no Sphinx import), so the tests can check it without building the docs:
:func:`config_rst` writes the table of every config item, :func:`api_plan` decides where
each public name (each module's ``__all__``) is documented, :func:`api_rst` writes a
package's reference page and :func:`compat_aliases` reads the ``Pyro4`` compatibility
package's aliases from its source (importing it would switch the process to Pyro4's
defaults, and the test suite that runs the docs tests has genuine Pyro4 installed).
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import pkgutil
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[2]
#: The packages of the API reference, in the order of the dependency arrows.
PACKAGES = ["pyro_protocol", "pyro_client", "pyro_server", "pyro_naming", "pyro_httpgateway"]
COMPAT_SOURCE = ROOT / "packages" / "pyro4-compat" / "src" / "Pyro4"

# Values whose repr would swamp the page are documented without it.
_LONG_VALUE = 60


# -- configuration ------------------------------------------------------------------------


def _default_text(value: Any) -> str:
    if isinstance(value, (set, frozenset)):
        return ", ".join(sorted(value))
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _literal(text: str) -> str:
    return f"``{text}``" if text else ""


def config_items() -> list[dict[str, str]]:
    """One row per config item: name, type, default, Pyro4's default if different, variable, description."""
    config_module = importlib.import_module("pyro_protocol.config")  # (pyro_protocol.config is the object)

    types_ = inspect.get_annotations(config_module.Config)
    rows = []
    for item, default in config_module.ITEM_DEFAULTS.items():
        pyro4 = config_module.PYRO4_DEFAULTS.get(item)
        rows.append(
            {
                "item": item,
                "type": str(types_[item]),
                "default": _default_text(default),
                "pyro4": "" if pyro4 is None else _default_text(pyro4),
                "variable": f"PYRO_{item}",
                "description": config_module.ITEM_DESCRIPTIONS.get(item, ""),
            }
        )
    return rows


def _list_table(header: list[str], rows: list[list[str]], widths: str) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return lines


def config_rst() -> list[str]:
    """The configuration table (reStructuredText lines)."""
    rows = []
    for row in config_items():
        default = f"``{row['type']}``, default {_literal(row['default'])}"
        if row["pyro4"]:
            default += f" (under ``import Pyro4``: ``{row['pyro4']}``)"
        rows.append([f"``{row['item']}`` (``{row['variable']}``)", default, row["description"]])
    return _list_table(["item (environment variable)", "type and default", "what it does"], rows, "30 25 45")


def environment_rst() -> list[str]:
    """The settings that only the environment sets (reStructuredText lines)."""
    from pyro_protocol.config import ENVIRONMENT_SETTINGS

    rows = [[f"``{name}``", text] for name, text in ENVIRONMENT_SETTINGS.items()]
    return _list_table(["variable", "what it does"], rows, "25 75")


# -- API reference -----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """Where ``module.name`` of some ``__all__`` is described in the reference."""

    module: str
    name: str
    kind: str  # "module", "class", "function", "data"
    home: str  # the full name of the place that documents it
    documented_here: bool


def public_modules(package: str) -> list[types.ModuleType]:
    """The package and every submodule that lists ``__all__``, in name order."""
    root = importlib.import_module(package)
    found = [root]
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if info.name.endswith(".__main__"):
            continue  # running it starts a program
        module = importlib.import_module(info.name)
        if hasattr(module, "__all__"):
            found.append(module)
    return sorted(found, key=lambda module: module.__name__)


@functools.cache
def _assigned_names(module: types.ModuleType) -> frozenset[str]:
    """Names that the module's source binds with a top-level assignment."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return frozenset()
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names.update(target.id for target in targets if isinstance(target, ast.Name))
    return frozenset(names)


def _kind(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "data"


def api_plan(packages: Optional[list[str]] = None) -> dict[tuple[str, str], Entry]:
    """For every (module, name) of every ``__all__``: document it there, or point to its home.

    A class or function lives where it was defined (its ``__module__``), if that module
    lists it; a value where a module assigns it; a module is its own section. Anything
    else is documented at its first listing.
    """
    modules = [module for package in packages or PACKAGES for module in public_modules(package)]
    by_name = {module.__name__: module for module in modules}
    listings = [(module, name) for module in modules for name in module.__all__]
    homes: dict[tuple[int, str], str] = {}  # (id of the object, its name) -> home module

    def home_of(module: types.ModuleType, name: str, obj: Any) -> Optional[str]:
        kind = _kind(obj)
        if kind == "module":
            return obj.__name__ if obj.__name__ in by_name else None
        if kind in ("class", "function"):
            owner = by_name.get(getattr(obj, "__module__", ""))
            qualname = getattr(obj, "__qualname__", "")
            if owner is not None and qualname in owner.__all__ and getattr(owner, qualname) is obj:
                return f"{owner.__name__}.{qualname}"
            return None
        if name in _assigned_names(module):
            return f"{module.__name__}.{name}"
        for other, other_name in listings:
            if other_name == name and getattr(other, name) is obj and name in _assigned_names(other):
                return f"{other.__name__}.{name}"
        return None

    plan = {}
    for module, name in listings:
        obj = getattr(module, name)
        key = (id(obj), name)
        home = home_of(module, name, obj) or homes.get(key) or f"{module.__name__}.{name}"
        homes.setdefault(key, home)
        here = home == f"{module.__name__}.{name}" and _kind(obj) != "module"
        plan[(module.__name__, name)] = Entry(module.__name__, name, _kind(obj), home, here)
    return plan


_ROLE = {"module": "mod", "class": "class", "function": "func", "data": "data"}


def _documenter(entry: Entry, obj: Any) -> list[str]:
    if entry.kind == "class":
        return [
            f".. autoclass:: {entry.home}",
            "   :members:",
            "   :undoc-members:",
            "   :private-members:",
            "   :show-inheritance:",
            "",
        ]
    if entry.kind == "function":
        return [f".. autofunction:: {entry.home}", ""]
    lines = [f".. autodata:: {entry.home}"]
    if len(repr(obj)) > _LONG_VALUE:
        lines.append("   :no-value:")
    return [*lines, ""]


def api_rst(package: str, plan: dict[tuple[str, str], Entry]) -> list[str]:
    """A package's reference: a section per public module, its own names described, the rest linked."""
    lines: list[str] = []
    for module in public_modules(package):
        title = f"``{module.__name__}``"
        lines += [title, "-" * len(title), "", f".. automodule:: {module.__name__}", "   :no-members:", ""]
        entries = [plan[(module.__name__, name)] for name in module.__all__]
        for entry in entries:
            if entry.documented_here:
                lines += _documenter(entry, getattr(module, entry.name))
        aliases = [entry for entry in entries if not entry.documented_here]
        if aliases:
            lines += [".. rubric:: Also importable from here", ""]
            rows = [[f"``{module.__name__}.{e.name}``", f":py:{_ROLE[e.kind]}:`{e.home}`"] for e in aliases]
            lines += _list_table(["name", "is"], rows, "45 55") + [""]
    return lines


# -- the Pyro4 compatibility package -----------------------------------------------------


def _compat_modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(COMPAT_SOURCE.rglob("*.py")):
        parts = path.relative_to(COMPAT_SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def _compat_bindings(tree: ast.Module) -> tuple[list[str], dict[str, str]]:
    """A module's ``__all__`` and, for each imported name, the full name it was imported as."""
    names: list[str] = []
    bound: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if alias.name == "*":
                    source = importlib.import_module(node.module)
                    bound.update({name: f"{node.module}.{name}" for name in source.__all__})
                    if not names:
                        names = list(source.__all__)
                elif alias.name == "__all__":
                    names = list(importlib.import_module(node.module).__all__)
                else:
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            names = list(ast.literal_eval(node.value))
    return names, bound


def compat_aliases() -> dict[str, list[tuple[str, str]]]:
    """Each ``Pyro4`` module -> [(name, the full name of the object it is)] for its ``__all__``."""
    trees = _compat_modules()
    bindings = {name: _compat_bindings(tree) for name, tree in trees.items()}

    def resolve(full: str) -> str:
        for _ in range(10):  # Pyro4 modules import from each other; follow the chain
            module, _, name = full.rpartition(".")
            if full in trees or module not in bindings or name not in bindings[module][1]:
                return full
            full = bindings[module][1][name]
        return full

    return {module: [(name, resolve(f"{module}.{name}")) for name in names] for module, (names, _) in bindings.items()}


def compat_rst(plan: dict[tuple[str, str], Entry]) -> list[str]:
    """The table of every name of every ``Pyro4`` module and the object it is."""
    lines: list[str] = []
    for module, names in compat_aliases().items():
        if not names:
            continue
        title = f"``{module}``"
        lines += [title, "-" * len(title), ""]
        rows = []
        for name, target in names:
            owner, _, attr = target.rpartition(".")
            entry = plan.get((owner, attr))
            if target.startswith("Pyro4") or entry is None:
                where = f"``{target}``"
            else:
                where = f":py:{_ROLE[entry.kind]}:`{entry.home}`"
            rows.append([f"``{module}.{name}``", where])
        lines += _list_table(["name", "is"], rows, "45 55") + [""]
    return lines
