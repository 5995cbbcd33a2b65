"""The interop matrix's client: `matrix_client.py ours|pyro4 SERIALIZER host:port ours|pyro4`
(the last word names the daemon's kind, for the few pairs that cannot work).

Runs the shared scenario set and prints one line per scenario:
`OK name`, `SKIP name: reason` or `FAIL name: what went wrong`.
"""

import sys
import traceback

KIND, SERIALIZER, LOCATION, DAEMON_KIND = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
if KIND == "ours":
    import pyro_client as pyro
    from pyro_client import util as pyro_util
else:
    import Pyro4 as pyro
    from Pyro4 import util as pyro_util

pyro.config.SERIALIZER = SERIALIZER
pyro.config.COMMTIMEOUT = 20


def proxy(name):
    return pyro.Proxy(f"PYRO:{name}@{LOCATION}")


def check(condition, message="check failed"):
    if not condition:
        raise AssertionError(message)


def plain_calls():
    with proxy("calc") as calc:
        check(calc.add(1, 2) == 3)
        check(calc.add("a", "b") == "ab")


def keyword_arguments():
    with proxy("calc") as calc:
        check(calc.kw(1, c=9) == [1, 2, 9], str(calc.kw(1, c=9)))


def oneway():
    with proxy("calc") as calc:
        check(calc.fire() is None)
        check(calc.was_fired() is True)


def remote_attributes():
    with proxy("calc") as calc:
        before = calc.value
        check(isinstance(before, int))
        calc.value = before + 1
        check(calc.value == before + 1)


def exceptions_with_remote_traceback():
    with proxy("calc") as calc:
        try:
            calc.divide(1, 0)
        except ZeroDivisionError as error:
            text = "".join(pyro_util.getPyroTraceback(type(error), error, error.__traceback__))
            check("Remote traceback" in text and "in divide" in text, text)
        else:
            raise AssertionError("no exception")


def autoproxy():
    with proxy("calc") as calc:
        thing = calc.make_thing("thing one")
        check(isinstance(thing, pyro.Proxy), f"got {type(thing)}")
        with thing:
            check(thing.whoami() == "thing one")


def batch():
    with proxy("calc") as calc:
        b = pyro.batch(calc)
        b.add(1, 2)
        b.kw(4)
        b.divide(1, 0)
        b.add(5, 5)
        results = b()
        check(next(results) == 3)
        check(next(results) == [4, 2, 3])
        try:
            next(results)
        except ZeroDivisionError:
            pass
        else:
            raise AssertionError("batch did not raise")


def async_results():
    with proxy("calc") as calc:
        calc._pyroAsync()
        result = calc.add(20, 22)
        check(result.wait(10), "not ready")
        check(result.value == 42)
        chained = calc.add(1, 1).then(lambda value: value * 10)
        check(chained.value == 20)


def remote_iterators():
    with proxy("calc") as calc:
        check(list(calc.gen(5)) == [0, 1, 2, 3, 4])
        iterator = calc.gen(1000)
        check(next(iterator) == 0 and next(iterator) == 1)
        iterator.close()


def instance_modes():
    with proxy("session") as a, proxy("session") as b:
        check(a.me() == a.me() and a.me() != b.me(), "session")
    with proxy("single") as a, proxy("single") as b:
        check(a.me() == b.me(), "single")


def large_payload():
    size = 10 * 1024 * 1024
    data = "x" * size if SERIALIZER in ("serpent", "json") else b"x" * size
    with proxy("calc") as calc:
        check(calc.echo(data) == data)


def metadata():
    with proxy("calc") as calc:
        calc._pyroBind()
        check({"add", "divide", "fire", "gen"} <= set(calc._pyroMethods), str(calc._pyroMethods))
        check(set(calc._pyroOneway) == {"fire"}, str(calc._pyroOneway))
        check(set(calc._pyroAttrs) == {"value"}, str(calc._pyroAttrs))
        try:
            calc.no_such_method()
        except AttributeError:
            pass
        else:
            raise AssertionError("unknown method was not refused locally")


def refused_serializer():
    previous = pyro.config.SERIALIZER
    pyro.config.SERIALIZER = "cloudpickle"
    try:
        with proxy("calc") as calc:
            try:
                calc.add(1, 2)
            except pyro.errors.CommunicationError as error:
                check("not accepted" in str(error), str(error))
            else:
                raise AssertionError("the daemon accepted cloudpickle")
    finally:
        pyro.config.SERIALIZER = previous


SCENARIOS = [
    plain_calls,
    keyword_arguments,
    oneway,
    remote_attributes,
    exceptions_with_remote_traceback,
    autoproxy,
    batch,
    async_results,
    remote_iterators,
    instance_modes,
    large_payload,
    metadata,
    refused_serializer,
]
#: Pyro4's own client cannot do these with marshal (its marshal call encoder fails on kwargs=None).
PYRO4_MARSHAL_CANNOT = {
    "remote_attributes": "Pyro4's marshal client cannot send attribute calls",
    "batch": "Pyro4's marshal client cannot send batch calls",
}

for scenario in SCENARIOS:
    name = scenario.__name__
    if KIND == "pyro4" and SERIALIZER == "marshal" and name in PYRO4_MARSHAL_CANNOT:
        print(f"SKIP {name}: {PYRO4_MARSHAL_CANNOT[name]}", flush=True)
        continue
    if name == "batch" and SERIALIZER == "marshal" and DAEMON_KIND == "pyro4":
        print(f"SKIP {name}: Pyro4's marshal daemon cannot send a batch result that holds an exception", flush=True)
        continue
    if name == "autoproxy" and SERIALIZER == "marshal":
        print(f"SKIP {name}: marshal cannot carry proxies in Pyro4 (protocol 3.9)", flush=True)
        continue
    try:
        scenario()
    except Exception as error:
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        print(f"FAIL {name}: {detail}", flush=True)
    else:
        print(f"OK {name}", flush=True)
