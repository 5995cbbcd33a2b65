"""The command-line tools: ``pyro-ns`` (the name server, also ``python -m pyro_naming``)
and ``pyro-nsc`` (name server control, also ``python -m pyro_naming.nsc``), with Pyro4's
options and commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Callable, Optional, TextIO

from pyro_protocol.errors import PyroError

from .daemon import startNSloop

__all__ = ["ns_main", "nsc_main", "run_nsc_command", "NSC_COMMANDS"]

log = logging.getLogger("pyro.naming")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # a second Ctrl-C/SIGTERM forced the stop: 128 + SIGINT, as shells do


def _hmac_key(option: Optional[str]) -> Optional[str]:
    from_env = os.environ.get("PYRO_HMAC_KEY")
    if option and from_env:
        raise SystemExit("error: don't use -k and PYRO_HMAC_KEY at the same time")
    if option:
        print(
            "Note: -k puts the HMAC key on the command line where others can see it; "
            "prefer the PYRO_HMAC_KEY environment variable.",
            file=sys.stderr,
        )
    return option or from_env


# -- pyro-ns -----------------------------------------------------------------------------


def _ns_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyro-ns", description="Pyro name server (Pyro4 4.82 compatible)")
    parser.add_argument("-n", "--host", help="hostname or address to bind the server on")
    parser.add_argument("-p", "--port", type=int, help="port to bind the server on (0=random)")
    parser.add_argument("-u", "--unixsocket", help="Unix domain socket name to bind the server on")
    parser.add_argument(
        "-s",
        "--storage",
        default="memory",
        help="storage: memory, dbm:<file>, sql:<file> or postgresql://<user>@<host>/<database> (shared by name servers)",
    )
    parser.add_argument("--bchost", help='hostname to bind the broadcast server on (default is "")')
    parser.add_argument("--bcport", type=int, help="port to bind the broadcast server on (0=random)")
    parser.add_argument("--nathost", help="external hostname in case of NAT")
    parser.add_argument("--natport", type=int, help="external port in case of NAT")
    parser.add_argument("-x", "--nobc", dest="enablebc", action="store_false", help="don't start a broadcast server")
    parser.add_argument("-k", "--key", help="the HMAC key to use (better: the PYRO_HMAC_KEY environment variable)")
    return parser


def ns_main(args: Optional[list[str]] = None) -> int:
    """``pyro-ns``: run a name server until Ctrl-C or SIGTERM. Exit code 0 after a clean stop."""
    options = _ns_parser().parse_args(args)
    try:
        startNSloop(
            options.host,
            options.port,
            enableBroadcast=options.enablebc,
            bchost=options.bchost,
            bcport=options.bcport,
            unixsocket=options.unixsocket,
            nathost=options.nathost,
            natport=options.natport,
            storage=options.storage,
            hmac=_hmac_key(options.key),
        )
    except KeyboardInterrupt:
        print("NS interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (PyroError, ValueError, OSError) as exc:
        print(f"error: cannot start the name server: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# -- pyro-nsc ----------------------------------------------------------------------------


class UsageError(Exception):
    """A command was given the wrong arguments."""


def _print_list(out: TextIO, result: dict[str, Any], title: str = "") -> None:
    print(f"--------START LIST {title}".rstrip(), file=out)
    for name, (uri, metadata) in sorted(result.items()):
        print(f"{name} --> {uri}", file=out)
        if metadata:
            print(f"    metadata: {sorted(metadata)}", file=out)
    print(f"--------END LIST {title}".rstrip(), file=out)


def _need(args: list[str], count: int, what: str, exact: bool = True) -> None:
    if len(args) < count or (exact and len(args) > count):
        raise UsageError(f"requires {what}")


def _cmd_ping(ns: Any, args: list[str], out: TextIO, confirm: Callable[[str], bool]) -> int:
    _need(args, 0, "no arguments")
    ns.ping()
    print("Name server ping ok.", file=out)
    return EXIT_OK


def _cmd_list(ns: Any, args: list[str], out: TextIO, confirm: Callable[[str], bool]) -> int:
    if len(args) > 1:
        raise UsageError("requires at most one argument: prefix")
    if args:
        _print_list(out, ns.list(prefix=args[0], return_metadata=True), f"- prefix '{args[0]}'")
    else:
        _print_list(out, ns.list(return_metadata=True))
    return EXIT_OK


def _cmd_listmatching(ns: Any, args: list[str], out: TextIO, confirm: Callable[[str], bool]) -> int:
    _need(args, 1, "one argument: pattern")
    _print_list(out, ns.list(regex=args[0], return_metadata=True), f"- regex '{args[0]}'")
    return EXIT_OK


def _cmd_listmeta_all(ns: Any, args: list[str], out: TextIO, confirm: Callable[[str], bool]) -> int:
    _need(args, 1, "at least one metadata tag argument", exact=False)
    _print_list(out, ns.list(metadata_all=set(args), return_metadata=True), "- searched by metadata (all)")
    return EXIT_OK


def _cmd_listmeta_any(ns: Any, args: list[str], out: TextIO, confirm: Callable[[str], bool]) -> int:
    _need(args, 1, "at least one metadata tag argument", exact=False)
    _print_list(out, ns.list(metadata_any=set(args), return_metadata=True), "- searched by metadata (any)")
    return EXIT_OK


def _cmd_lookup(ns: Any, args: list[str], out: TextIO, confirm: Callable[[str], bool]) -> int:
    _need(args, 1, "one argument: name")
    uri, metadata = ns.lookup(args[0], return_metadata=True)
    print(uri, file=out)
    if metadata:
        print(f"metadata: {sorted(metadata)}", file=out)
    return EXIT_OK


def _cmd_register(ns: Any, args: list[str], out: TextIO, confirm: Callable[[str], bool]) -> int:
    _need(args, 2, "two arguments: name uri")
    ns.register(args[0], args[1], safe=True)
    print(f"Registered {args[0]}", file=out)
    return EXIT_OK


def _cmd_remove(ns: Any, args: list[str], out: TextIO, confirm: Callable[[str], bool]) -> int:
    _need(args, 1, "one argument: name")
    if ns.remove(args[0]) > 0:
        print(f"Removed {args[0]}", file=out)
        return EXIT_OK
    print("Nothing removed", file=out)
    return EXIT_FAILED


def _cmd_removematching(ns: Any, args: list[str], out: TextIO, confirm: Callable[[str], bool]) -> int:
    _need(args, 1, "one argument: pattern")
    if not confirm("Potentially removing lots of items from the Name server. Are you sure (y/n)?"):
        print("Nothing removed (not confirmed)", file=out)
        return EXIT_FAILED
    count = ns.remove(regex=args[0])
    print(f"{count} items removed.", file=out)
    return EXIT_OK


def _cmd_setmeta(ns: Any, args: list[str], out: TextIO, confirm: Callable[[str], bool]) -> int:
    _need(args, 1, "at least 1 argument: name, and zero or more meta tags", exact=False)
    metadata = set(args[1:])
    ns.set_metadata(args[0], metadata)
    print("Metadata updated" if metadata else "Metadata cleared", file=out)
    return EXIT_OK


#: ``pyro-nsc``'s commands: name -> function(name server proxy, arguments, output, confirm) -> exit code.
NSC_COMMANDS: dict[str, Callable[[Any, list[str], TextIO, Callable[[str], bool]], int]] = {
    "ping": _cmd_ping,
    "list": _cmd_list,
    "listmatching": _cmd_listmatching,
    "listmeta_all": _cmd_listmeta_all,
    "listmeta_any": _cmd_listmeta_any,
    "lookup": _cmd_lookup,
    "register": _cmd_register,
    "remove": _cmd_remove,
    "removematching": _cmd_removematching,
    "setmeta": _cmd_setmeta,
}


def _ask(question: str) -> bool:
    try:
        return input(question + " ").strip() in ("y", "Y")
    except EOFError:
        return False


def run_nsc_command(
    nameserver: Any,
    args: list[str],
    out: Optional[TextIO] = None,
    confirm: Callable[[str], bool] = _ask,
) -> int:
    """Run one pyro-nsc command (``[command, arg...]``) against a name server proxy.

    Returns the exit code: 0 done, 1 the name server refused or nothing was
    done, 2 bad command or arguments. Output goes to ``out`` (default stdout).
    """
    out = out if out is not None else sys.stdout
    if not args or args[0] not in NSC_COMMANDS:
        print(f"Error: unknown command {args[0] if args else ''!r}; use one of {', '.join(NSC_COMMANDS)}", file=out)
        return EXIT_USAGE
    try:
        return NSC_COMMANDS[args[0]](nameserver, list(args[1:]), out, confirm)
    except UsageError as exc:
        print(f"Error: {args[0]} {exc}", file=out)
        return EXIT_USAGE
    except Exception as exc:
        print(f"Error: {type(exc).__name__} - {exc}", file=out)
        return EXIT_FAILED


def _nsc_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyro-nsc",
        description="Pyro name server control.",
        epilog="commands: " + ", ".join(NSC_COMMANDS),
    )
    parser.add_argument("-n", "--host", help="hostname of the name server")
    parser.add_argument("-p", "--port", type=int, help="port of the name server (or the broadcast port if no host)")
    parser.add_argument("-u", "--unixsocket", help="Unix domain socket name of the name server")
    parser.add_argument("-k", "--key", help="the HMAC key to use (better: the PYRO_HMAC_KEY environment variable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="verbose output")
    parser.add_argument("-y", "--yes", action="store_true", help="don't ask for confirmation (removematching)")
    parser.add_argument("command", choices=sorted(NSC_COMMANDS), metavar="command")
    parser.add_argument("arguments", nargs="*")
    return parser


def _locate(host: Optional[str], port: Optional[int], hmac_key: Optional[str]) -> Any:
    try:
        from pyro_client import locateNS
    except ImportError:
        raise PyroError("pyro-nsc needs pyro_client.locateNS, and this pyro-client has none") from None
    if hmac_key:
        return locateNS(host, port, hmac_key=hmac_key)
    return locateNS(host, port)


def _release(proxy: Any) -> None:
    release = getattr(proxy, "_pyroRelease", None)
    if release is not None:
        release()


def nsc_main(args: Optional[list[str]] = None) -> int:
    """``pyro-nsc`` (also ``python -m pyro_naming.nsc``): locate the name server and run one
    command on it."""
    options = _nsc_parser().parse_args(args)
    host = f"./u:{options.unixsocket}" if options.unixsocket else options.host
    if options.verbose:
        print("Locating name server...")
    try:
        nameserver = _locate(host, options.port, _hmac_key(options.key))
    except Exception as exc:  # whatever the client raises: say it, don't crash
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        if options.verbose:
            print(f"Name server found: {nameserver._pyroUri}")
        confirm = (lambda question: True) if options.yes else _ask
        code = run_nsc_command(nameserver, [options.command, *options.arguments], confirm=confirm)
    finally:
        _release(nameserver)
    if options.verbose:
        print("Done.")
    return code
