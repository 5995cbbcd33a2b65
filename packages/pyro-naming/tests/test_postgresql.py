"""The PostgreSQL storage: one registry for several name servers, races decided by the
database, lost connections replaced, a database that is down reported clearly; two name
servers (in threads, and as pyro-ns processes) on one database, used by the genuine Pyro4
4.82 client. (Every storage test of test_storage/test_nameserver/test_leases runs on it too.)"""

import re
import threading

import pytest

from pyro_naming import NameServer, make_storage
from pyro_naming.postgresql import PostgresStorage
from pyro_naming.storage import Entry
from pyro_protocol import constants
from pyro_protocol.errors import NamingError
from pyro_server import Daemon

URI_A = "PYRO:a@127.0.0.1:5001"
URI_B = "PYRO:b@127.0.0.1:5002"
RUNNING_LINE = re.compile(r"^NS running on 127\.0\.0\.1:(\d+) \(127\.0\.0\.1\)$")


class Echo:
    def echo(self, value):
        return value


def test_two_storages_on_one_database_see_every_change_at_once(new_storage):
    one, two = new_storage("postgresql"), new_storage("postgresql")
    one.put("x", Entry(URI_A, frozenset({"m"})))
    assert two.get("x") == Entry(URI_A, frozenset({"m"}))
    assert two.set_metadata("x", frozenset({"n"}))
    assert one.get("x").metadata == frozenset({"n"})
    two.put("x", Entry(URI_B, frozenset(), lease=60))
    assert one.get("x").uri == URI_B
    assert one.renew({"x": URI_B}) == ["x"]
    assert two.delete(["x"]) == 1
    assert one.get("x") is None and one.count() == 0


def test_safe_registrations_racing_through_two_name_servers_have_one_winner(new_storage):
    servers = [NameServer(new_storage("postgresql")), NameServer(new_storage("postgresql"))]
    names = [f"race.{i}" for i in range(40)]
    wins: dict[str, list[str]] = {name: [] for name in names}
    refusals: list[str] = []
    unexpected: list[BaseException] = []
    start = threading.Barrier(6)

    def contender(number):
        ns = servers[number % 2]
        uri = f"PYRO:obj@127.0.0.1:{7000 + number}"
        try:
            start.wait(timeout=10)
            for name in names:
                try:
                    ns.register(name, uri, safe=True)
                    wins[name].append(uri)
                except NamingError as exc:
                    refusals.append(str(exc))
        except BaseException as exc:  # reported below
            unexpected.append(exc)

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not unexpected
    assert all(len(winners) == 1 for winners in wins.values()), wins
    assert len(refusals) == 5 * len(names)
    assert all(message.startswith("name already registered: race.") for message in refusals)
    for name in names:  # the winner's registration, as either name server sees it
        assert str(servers[1].lookup(name)) == str(servers[0].lookup(name)) == wins[name][0]


def test_concurrent_starts_create_the_table_once(pg_url):
    stores, errors = [], []

    def start():
        try:
            stores.append(PostgresStorage(pg_url))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for store in stores:
        store.close()
    assert not errors and len(stores) == 4


def terminate_connections(pg_cluster, database):
    return pg_cluster.sql(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' "
        "AND pid <> pg_backend_pid()"
    )


def test_lost_connections_are_replaced(new_storage, pg_cluster):
    store = new_storage("postgresql")
    store.put("x", Entry(URI_A, frozenset()))
    held = [store._pool.take()[0] for _ in range(3)]  # three idle connections in the pool
    for connection in held:
        store._pool.give_back(connection)
    assert len(terminate_connections(pg_cluster, "pyro")) >= 3  # as when the database restarts
    assert store.get("x") == Entry(URI_A, frozenset())
    store.put("y", Entry(URI_B, frozenset()))
    assert store.count() == 2


@pytest.fixture()
def own_database(pg_cluster):
    pg_cluster.sql("CREATE DATABASE pyro_down")
    yield pg_cluster.url("pyro_down")
    pg_cluster.sql("DROP DATABASE pyro_down WITH (FORCE)")


def test_a_database_that_goes_down_gives_a_clear_error_and_is_used_again_when_back(own_database, pg_cluster):
    store = PostgresStorage(own_database)
    try:
        store.put("x", Entry(URI_A, frozenset()))
        pg_cluster.sql("ALTER DATABASE pyro_down ALLOW_CONNECTIONS false")
        terminate_connections(pg_cluster, "pyro_down")
        with pytest.raises(NamingError, match=r"^cannot reach the PostgreSQL storage \(pyro_down on /.*not currently"):
            store.get("x")
        with pytest.raises(NamingError, match="cannot reach the PostgreSQL storage"):
            NameServer(store).register("y", URI_B)
        pg_cluster.sql("ALTER DATABASE pyro_down ALLOW_CONNECTIONS true")
        assert store.get("x") == Entry(URI_A, frozenset())
    finally:
        store.close()


def test_a_database_that_is_not_there_and_urls_that_are_not_urls(tmp_path):
    with pytest.raises(NamingError, match=r"^cannot reach the PostgreSQL storage \(pyro on .*nothing-here"):
        make_storage(f"postgresql://postgres@/pyro?host={tmp_path / 'nothing-here'}")
    with pytest.raises(NamingError, match='^invalid PostgreSQL storage URL: invalid URI query parameter: "bogus"$'):
        make_storage("postgresql://postgres@/pyro?bogus=1")
    with pytest.raises(NamingError, match="^invalid PostgreSQL storage URL: "):
        make_storage("postgres://[::1")


def test_repr_names_the_database_but_not_a_password(pg_cluster, pg_url):
    store = PostgresStorage(pg_url.replace("postgres@", "postgres:secret@"))
    try:
        assert repr(store) == f"<PostgresStorage pyro on {pg_cluster.directory}>"
        assert "secret" not in repr(store)
    finally:
        store.close()


def test_two_name_servers_on_one_database_with_a_genuine_pyro4_client(pg_url, name_server, pyro4, run):
    first, second = name_server(storage=pg_url), name_server(storage=pg_url)
    uris = [str(daemon.uriFor(constants.NAMESERVER_NAME)) for daemon in (first, second)]
    daemon = Daemon(host="127.0.0.1")
    echo_uri = str(daemon.register(Echo()))
    with run(daemon):
        with pyro4.Proxy(uris[0]) as ns:
            ns.register("app.echo", echo_uri, metadata={"echo", "red"})
            ns.register("app.other", URI_B, safe=True, metadata=["red"])
        with pyro4.Proxy(uris[1]) as ns:
            assert str(ns.lookup("app.echo")) == echo_uri
            assert ns.list(prefix="app.") == {"app.echo": echo_uri, "app.other": URI_B}
            assert set(ns.list(regex=r"app\.e")) == {"app.echo"}
            assert set(ns.list(metadata_all={"red", "echo"})) == {"app.echo"}
            assert set(ns.list(metadata_any={"red"})) == {"app.echo", "app.other"}
            with pytest.raises(pyro4.errors.NamingError, match="^name already registered: app.other$"):
                ns.register("app.other", URI_A, safe=True)
            ns.set_metadata("app.other", {"blue"})
            assert ns.remove("app.other") == 1
        with pyro4.Proxy(uris[0]) as ns:
            with pytest.raises(pyro4.errors.NamingError, match="^unknown name: app.other$"):
                ns.lookup("app.other")
        for ns_daemon in (first, second):
            pyro4.config.NS_HOST = "127.0.0.1"
            pyro4.config.NS_PORT = ns_daemon.sock.getsockname()[1]
            with pyro4.Proxy("PYRONAME:app.echo") as echo:
                assert echo.echo("through either") == "through either"


def test_pyro_ns_processes_share_the_database(pg_url, ns_process, pyro4):
    first = ns_process("-n", "127.0.0.1", "-p", "0", "-x", "-s", pg_url)
    with pyro4.Proxy(first.uri) as ns:
        ns.register("shared.one", URI_A, metadata={"m"})
        ns.register("shared.two", URI_B)
    second = ns_process("-n", "127.0.0.1", "-p", "0", "--nobc", f"--storage={pg_url}")
    assert second.uri != first.uri
    assert "Persistent store contains 2 existing registrations." in second.lines
    with pyro4.Proxy(second.uri) as ns:
        assert ns.lookup("shared.one", return_metadata=True)[1] == ["m"]
        ns.remove("shared.two")
    with pyro4.Proxy(first.uri) as ns:
        assert set(ns.list(prefix="shared.")) == {"shared.one"}
        assert str(ns.lookup(constants.NAMESERVER_NAME)) == second.uri  # the last one to start
    assert first.stop() == 0 and second.stop() == 0
