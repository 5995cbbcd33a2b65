"""Sphinx settings of the manual: ``hatch run docs:build`` (warnings are errors), ``hatch run docs:serve``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

import pyro_protocol  # noqa: E402

project = "Pyro"
author = "the Pyro project"
copyright = "the Pyro project"  # noqa: A001 - Sphinx's name
release = version = pyro_protocol.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "pyrodocs"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "_ext", "README.md"]
root_doc = "index"

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "both"

html_theme = "furo"
html_title = f"Pyro {release}"
html_static_path: list[str] = []
pygments_style = "sphinx"
