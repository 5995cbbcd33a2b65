"""Pyro4.utils: Flame and the HTTP gateway."""
