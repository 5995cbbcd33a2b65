"""Pyro4.test: the echo server."""
