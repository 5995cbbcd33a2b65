"""The manual (docs/) stays true: its code blocks run, and its generated parts cover everything.

Every ```python block of every page runs. The blocks of one page run in order in one fresh
Python process, sharing their names, as a reader would type them into one session. A line
``% test: server`` just before a block makes it a server program of its own: it starts (in
its own process) before the page's other blocks and must print a line when it is ready.
``% test: skip <why>`` leaves a block out. A page with a line ``% test-page: nameserver``
gets a name server on a free port first (``PYRO_NS_PORT`` tells every process of the page
where). Lines starting with ``%`` are comments to MyST, so readers never see these marks.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import pyroref  # noqa: E402

PAGE_TIMEOUT = 60.0
_FENCE = re.compile(r"^(`{3,})python\s*$")
_MARK = re.compile(r"^%\s*test:\s*(\w+)\s*(.*)$")


@dataclass
class Block:
    page: str
    line: int  # of the block's first code line, 1-based
    code: str
    mode: str  # "run", "server" or "skip"
    why: str = ""


def blocks_of(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        before = next((text for text in reversed(lines[:index]) if text.strip()), "")
        mark = _MARK.match(before)
        mode, why = (mark.group(1), mark.group(2).strip()) if mark else ("run", "")
        end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == fence.group(1))
        code = "\n".join(lines[index + 1 : end]) + "\n"
        page = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        found.append(Block(page, index + 2, code, mode, why))
        index = end + 1
    return found


def pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.md") if "_build" not in path.parts)


ALL_BLOCKS = [block for page in pages() for block in blocks_of(page)]


def test_the_manual_has_tested_code_blocks():
    run = [block for block in ALL_BLOCKS if block.mode in ("run", "server")]
    assert len(run) >= 40, f"only {len(run)} code blocks run"
    for block in ALL_BLOCKS:
        assert block.mode in ("run", "server", "skip"), f"{block.page}:{block.line}: unknown mark {block.mode!r}"
        if block.mode == "skip":
            assert block.why, f"{block.page}:{block.line}: say why the block is skipped"


# The page's blocks run as one script: each block is compiled with its page and line as
# its file name, so a failure names the block.
_DRIVER = """
import os, sys, traceback
blocks = {blocks!r}
namespace = {{"__name__": "__main__"}}
for page, line, code in blocks:
    try:
        exec(compile("\\n" * (line - 1) + code, page, "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)  # at once: a server thread the page started would keep the process alive
"""


def _page_env(extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYRO_")}
    env.update(PYTHONUNBUFFERED="1", PYTHONWARNINGS="error", **extra)
    return env


def _check_output(what: str, result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{what} failed:\n{result.stdout}\n{result.stderr}"
    assert "ResourceWarning" not in result.stderr, f"{what} left something open:\n{result.stderr}"


@pytest.mark.parametrize(
    "page",
    [p for p in pages() if any(b.mode != "skip" for b in blocks_of(p))],
    ids=lambda p: p.relative_to(ROOT).as_posix(),
)
def test_page_code_runs(page: Path, spawn, tmp_path):
    blocks = blocks_of(page)
    env = _page_env({})
    if "% test-page: nameserver" in page.read_text(encoding="utf-8"):
        ns = spawn(["-m", "pyro_naming", "-n", "127.0.0.1", "-p", "0"], _page_env({}), tmp_path)
        env["PYRO_NS_PORT"] = ns.wait_for("URI =").rpartition(":")[2]
        env["PYRO_NS_HOST"] = "127.0.0.1"
    for block in blocks:
        if block.mode == "server":
            server = spawn(["-c", "\n" * (block.line - 1) + block.code], env, tmp_path)
            server.wait_for("", timeout=20.0)  # its first line says it is ready
    script = _DRIVER.format(blocks=[(b.page, b.line, b.code) for b in blocks if b.mode == "run"])
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT,
    )
    _check_output(page.name, result)


# -- the generated parts cover everything ----------------------------------------------------


def test_every_config_item_is_in_the_table():
    from pyro_protocol.config import ITEM_DEFAULTS, ITEM_DESCRIPTIONS

    assert set(ITEM_DESCRIPTIONS) == set(ITEM_DEFAULTS), "describe every config item, and only those"
    assert all(text.strip() for text in ITEM_DESCRIPTIONS.values())
    table = "\n".join(pyroref.config_rst())
    for item in ITEM_DEFAULTS:
        assert f"``{item}``" in table and f"``PYRO_{item}``" in table, item
    assert ".. pyro-config-table::" in (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert ".. pyro-environment-table::" in (DOCS / "configuration.md").read_text(encoding="utf-8")


def _environment_variables_read() -> set[str]:
    """Every PYRO_ variable whose name the packages' code spells out."""
    found = set()
    for path in ROOT.glob("packages/*/src/**/*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(re.findall(r"environ(?:\.get\(|\[)\s*[\"'](PYRO_[A-Z_]+)[\"']", text))
        found.update(re.findall(r"_VARIABLE = [\"'](PYRO_[A-Z_]+)[\"']", text))
    return found


def test_every_environment_variable_is_documented():
    from pyro_protocol.config import ENVIRONMENT_SETTINGS, ITEM_DEFAULTS

    known = {f"PYRO_{item}" for item in ITEM_DEFAULTS} | set(ENVIRONMENT_SETTINGS) | {"PYRO_"}
    read = _environment_variables_read()
    assert {"PYRO_LOGLEVEL", "PYRO_SPIN_TIME", "PYRO_HMAC_KEY", "PYRO_HTTPGATEWAY_KEY"} <= read  # the scan works
    assert read - known == set()
    table = "\n".join(pyroref.environment_rst())
    assert all(f"``{name}``" in table for name in ENVIRONMENT_SETTINGS)


def _package_dirs() -> dict[str, Path]:
    """Import name -> source folder, for every package of packages/ except the Pyro4 aliases."""
    found = {}
    for init in ROOT.glob("packages/*/src/*/__init__.py"):
        if init.parent.name != "Pyro4":
            found[init.parent.name] = init.parent
    return found


def test_every_package_has_an_api_page():
    assert sorted(_package_dirs()) == sorted(pyroref.PACKAGES)
    for package in pyroref.PACKAGES:
        page = (DOCS / "api" / f"{package}.rst").read_text(encoding="utf-8")
        assert f".. pyro-api:: {package}" in page
    assert ".. pyro-compat-table::" in (DOCS / "api" / "Pyro4.rst").read_text(encoding="utf-8")


def _all_of(path: Path) -> list[str] | None:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None


def test_every_public_name_is_in_the_api_reference():
    plan = pyroref.api_plan()
    for package, folder in _package_dirs().items():
        text = "\n".join(pyroref.api_rst(package, plan))
        for path in folder.rglob("*.py"):
            if path.name == "__main__.py":
                continue
            parts = path.relative_to(folder.parent).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            for name in getattr(importlib.import_module(module), "__all__", []):
                entry = plan[(module, name)]
                if entry.documented_here:
                    assert f":: {entry.home}\n" in text, f"{module}.{name} is not described"
                else:
                    assert f"``{module}.{name}``" in text, f"{module}.{name} is not listed"


def test_every_pyro4_alias_is_in_the_api_reference():
    aliases = pyroref.compat_aliases()
    text = "\n".join(pyroref.compat_rst(pyroref.api_plan()))
    for path in pyroref.COMPAT_SOURCE.rglob("*.py"):
        parts = path.relative_to(pyroref.COMPAT_SOURCE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names = _all_of(path)
        if names is None:  # a star import's __all__
            names = [name for name, _ in aliases[module]]
        assert [name for name, _ in aliases[module]] == names
        for name in names:
            assert f"``{module}.{name}``" in text, f"{module}.{name} is not listed"


def test_every_console_script_is_in_the_tools_chapter():
    chapter = (DOCS / "tools.md").read_text(encoding="utf-8")
    scripts = []
    for pyproject in ROOT.glob("packages/*/pyproject.toml"):
        section = pyproject.read_text(encoding="utf-8").partition("[project.scripts]")[2].partition("\n[")[0]
        scripts += re.findall(r"^([a-z0-9-]+) = ", section, re.MULTILINE)
    assert len(scripts) >= 12
    assert [script for script in scripts if f"`{script}`" not in chapter] == []


# -- references resolve ------------------------------------------------------------------------


def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in listed.splitlines() if (ROOT / name).is_file()]


# Spelled in pieces, so that this file does not match itself.
_GONE = ["shared" + "/", "servers" + ".rst", "pyro4-wire" + "-protocol"]


def test_no_file_points_outside_the_repository():
    offenders = []
    for path in _tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{path.relative_to(ROOT)}: {gone}" for gone in _GONE if gone in text]
    assert offenders == []


_SECTION_CITE = re.compile(r"\b(?:spec|protocol)(?: section)? (\d+(?:\.\d+)*)")


def test_protocol_section_numbers_in_the_code_exist_in_the_protocol_chapter():
    chapter = (DOCS / "protocol.md").read_text(encoding="utf-8")
    labels = set(re.findall(r"^\(protocol-([\d.]+)\)=$", chapter, re.MULTILINE))
    cited = {}
    for path in _tracked_files():
        if path.suffix == ".py":
            for number in _SECTION_CITE.findall(path.read_text(encoding="utf-8")):
                if int(number.split(".")[0]) <= 12:  # the chapter's sections ("protocol 48" is a version)
                    cited.setdefault(number, str(path.relative_to(ROOT)))
    missing = {number: where for number, where in cited.items() if number not in labels}
    assert cited and missing == {}


# -- versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("package", pyroref.PACKAGES)
def test_metadata_version_is_the_packages_version(package):
    distribution = package.replace("_", "-")
    assert importlib.metadata.version(distribution) == importlib.import_module(package).__version__


def test_changelogs_name_the_current_versions():
    for pyproject in ROOT.glob("packages/*/pyproject.toml"):
        changelog = (pyproject.parent / "CHANGELOG.md").read_text(encoding="utf-8")
        version_file = re.search(r'path = "([^"]+)"', pyproject.read_text(encoding="utf-8"))
        assert version_file, f"{pyproject}: no [tool.hatch.version] path"
        source = (pyproject.parent / version_file.group(1)).read_text(encoding="utf-8")
        version = re.search(r'^__(?:compat_)?version__ = "([^"]+)"', source, re.MULTILINE)
        assert version, f"{version_file.group(1)}: no version"
        assert f"## {version.group(1)}" in changelog, f"{pyproject.parent.name}: CHANGELOG.md misses {version.group(1)}"


def test_block_marks_are_read(tmp_path):
    sample = textwrap.dedent(
        """\
        % test: skip because
        ```python
        x = 1
        ```
        """
    )
    path = tmp_path / "sample.md"
    path.write_text(sample, encoding="utf-8")
    (block,) = blocks_of(path)
    assert (block.mode, block.why, block.code, block.line) == ("skip", "because", "x = 1\n", 3)
