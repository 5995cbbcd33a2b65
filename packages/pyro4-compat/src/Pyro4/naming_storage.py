"""Pyro4.naming_storage: the name server's persistent storages (pyro_naming.storage)."""

from pyro_naming.storage import DbmStorage, SqlStorage

__all__ = ["SqlStorage", "DbmStorage"]
