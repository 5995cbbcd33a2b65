"""Instance modes of registered classes (the @behavior decorator): session, single, percall."""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

__all__ = ["InstanceModes", "MODES"]

MODES = ("session", "single", "percall")


class InstanceModes:
    """Makes and keeps the instances of a daemon's registered classes."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.singles: dict[type, Any] = {}
        self.lock = threading.Lock()

    def instance_for(self, cls: type, conn: Any) -> Any:
        """The instance that serves a call on ``cls`` from connection ``conn``."""
        mode, creator = getattr(cls, "_pyroInstancing", ("session", None))
        if mode == "percall":
            return self.create(cls, creator)
        if mode == "single":
            instance = self.singles.get(cls)
            if instance is None:
                with self.lock:
                    instance = self.singles.get(cls)
                    if instance is None:
                        instance = self.singles[cls] = self.create(cls, creator)
            return instance
        instance = conn.pyroInstances.get(cls)
        if instance is None:
            instance = conn.pyroInstances[cls] = self.create(cls, creator)
        return instance

    def create(self, cls: type, creator: Optional[Callable[[type], Any]]) -> Any:
        instance = creator(cls) if creator is not None else cls()
        if not isinstance(instance, cls):
            raise TypeError("instance creator returned object of different type")
        try:
            instance._pyroDaemon = self.daemon  # type: ignore[attr-defined]
            instance._pyroId = cls._pyroId  # type: ignore[attr-defined]
        except AttributeError:
            pass
        return instance

    def forget(self, cls: type) -> None:
        with self.lock:
            self.singles.pop(cls, None)
