"""Uses the name server and the published objects: `ns_client.py ours|pyro4 EXPECTED_SERVER_KIND`.
Prints `OK name` / `FAIL name: ...` per scenario. NS_HOST/NS_PORT/NS_BCPORT come from the environment."""

import sys
import traceback

KIND, SERVER_KIND = sys.argv[1], sys.argv[2]
if KIND == "ours":
    import pyro_client as pyro
else:
    import Pyro4 as pyro


def check(condition, message="check failed"):
    if not condition:
        raise AssertionError(message)


def pyroname_call():
    with pyro.Proxy("PYRONAME:example.thing") as thing:
        check(thing.method(21) == 42)
        check(thing.kind() == SERVER_KIND, thing.kind())


def pyrometa_call():
    with pyro.Proxy("PYROMETA:interop:meta,color:blue") as thing:
        check(thing.method(2) == 4)


def name_server_queries():
    with pyro.locateNS() as ns:
        check("example.thing" in ns.list(prefix="example."))
        _uri, metadata = ns.lookup("example.meta", return_metadata=True)
        check(set(metadata) == {"interop:meta", "color:blue"}, str(metadata))
        check(list(ns.list(metadata_any={"color:blue"})) == ["example.meta"])
        ns.register("example.client", "PYRO:x@127.0.0.1:1234")
        check(ns.remove("example.client") == 1)
        try:
            ns.lookup("no.such.name")
        except pyro.errors.NamingError:
            pass
        else:
            raise AssertionError("unknown name did not raise NamingError")


def broadcast_discovery():
    pyro.config.NS_HOST = "192.0.2.1"  # not localhost: find it by broadcast, not by the direct path
    pyro.config.BROADCAST_ADDRS = "127.0.0.1"
    with pyro.locateNS() as ns:
        ns.ping()
        check(ns._pyroUri.host == "127.0.0.1", str(ns._pyroUri))


for scenario in (pyroname_call, pyrometa_call, name_server_queries, broadcast_discovery):
    try:
        scenario()
    except Exception as error:
        print(f"FAIL {scenario.__name__}: {''.join(traceback.format_exception_only(type(error), error)).strip()}")
    else:
        print(f"OK {scenario.__name__}")
    sys.stdout.flush()
