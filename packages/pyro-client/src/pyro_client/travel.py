"""How proxies travel inside serialized data (protocol 3.4.2 and 3.7): as Pyro4's dict form
for the dict-based serializers, and under Pyro4's class name for pickle."""

from __future__ import annotations

import base64
from typing import Any

from pyro_protocol import constants, serializers
from pyro_protocol.errors import ProtocolError, SerializeError
from pyro_protocol.uri import URI

from .proxy import Proxy

__all__: list[str] = []


def _proxy_to_dict(proxy: Proxy) -> dict[str, Any]:
    return {
        "__class__": constants.WIRE_CLASS_PROXY,
        "state": proxy._pyro_state_for_dict(),
    }


def _proxy_from_dict(classname: str, data: dict[str, Any]) -> Proxy:
    try:
        state = list(data["state"])
        uri = URI(state[0])
    except (KeyError, TypeError, IndexError) as exc:
        raise SerializeError(f"invalid state for {classname}: {exc}") from None
    hmac_text = state[5] if len(state) > 5 else None
    hmac_key = None
    if hmac_text:
        if not isinstance(hmac_text, str) or not hmac_text.startswith("b64:"):
            raise ProtocolError("hmac encoding error")
        hmac_key = base64.b64decode(hmac_text[4:].encode("ascii"))
    proxy = Proxy.__new__(Proxy)
    proxy.__setstate__((uri, state[1], state[2], state[3], None, hmac_key, *state[6:9]))
    return proxy


serializers.register_class_to_dict(Proxy, _proxy_to_dict)
serializers.register_dict_to_class(constants.WIRE_CLASS_PROXY, _proxy_from_dict)
serializers.register_pickle_name(Proxy, "Pyro4.core", "Proxy")
