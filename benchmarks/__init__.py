"""Side-by-side benchmarks: this project's Pyro against genuine Pyro4 4.82.

Run from the repository root with ``hatch run bench:run`` (full) or
``hatch run bench:quick``. Servers and clients run in separate processes on
127.0.0.1; results go to ``benchmarks/results/`` (JSON, Markdown, PNG).
"""
