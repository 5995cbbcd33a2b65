"""The example runner itself: a server and a client of one example, in its own network namespace."""

from __future__ import annotations

import re


def test_attributes(example):
    ex = example("attributes")
    server = ex.start("server.py")
    uri = re.search(r"PYRO:\S+", server.wait_for("Pyro daemon running")).group(0)
    out = ex.run("client.py", input=uri + "\n")
    assert "p.prop_value= 42" in out
    assert "calling p.__dunder__()....:  yep" in out
