"""``python -m ss``: new, start, assets, console. Thin commands over library functions."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from typing import Callable
from pathlib import Path

from . import event_loop
from .version import __version__
from .errors import SSError

SKELETON = Path(__file__).with_name("skeleton")


class CommandError(SSError):
    """A command cannot go on; the message says what to do. Printed without a traceback, exit 1."""


def cmd_new(args: argparse.Namespace) -> int:
    """Create a new app from the skeleton."""
    target = Path(args.name)
    if target.exists():
        raise CommandError(f"{target} already exists: choose another name or remove it first (nothing was changed)")
    shutil.copytree(SKELETON, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _write_python_into_makefile(target / "Makefile")
    print(f"Created {target}/")
    try:
        from .assets.vendor_libs import install_client_libs
    except ImportError:
        notes = ["jQuery and jQuery templates were not added: the asset pipeline is not installed"]
    else:
        notes = install_client_libs(target)
    for note in notes:
        print(f"  note: {note}")
    print(f"\nNext:\n  cd {target}\n  python -m ss start\nthen open http://localhost:3000/")
    return 0


def _write_python_into_makefile(makefile: Path) -> None:
    """The app's `make` commands run this interpreter: the one that has ss installed."""
    try:
        text = makefile.read_text()
    except OSError:
        return
    makefile.write_text(text.replace("@SS_NEW_PYTHON@", sys.executable))


def _load_app(args: argparse.Namespace):
    from .app import App
    from .errors import StartupError
    from .project import NotAnApp, find_project

    try:
        project = find_project()
    except NotAnApp as exc:
        raise CommandError(str(exc)) from None
    overrides = {"http": {"port": args.port}} if getattr(args, "port", None) else None
    try:
        return App.load(project.root, overrides=overrides)
    except StartupError as exc:  # ConfigError, or a setting only the store can judge (redis.sentinel)
        raise CommandError(f"config error, server not started:\n  {exc}") from None


def cmd_start(args: argparse.Namespace) -> int:
    """Start the app in the current folder (``--workers N``: N processes on one port, see ss/workers.py)."""
    from . import logs
    from .rpc.api_tree import ApiTreeError
    from .assets import AssetError
    from .db_setup import DbFileError
    from .web.middleware import MiddlewareError
    from .serving import serve
    from .store import StoreUnavailable
    from .errors import StartupError
    from .web.tls import CertificateError

    app = _load_app(args)
    try:
        logs.configure(app.config.log.level, fmt=str(app.config.log.get("format", "text")))
    except ValueError as exc:
        raise CommandError(f"config error, server not started:\n  {exc}") from None
    try:
        event_loop.loop_factory(app.config.server.event_loop)
    except ValueError as exc:
        raise CommandError(f"config error, server not started:\n  {exc}") from None
    workers = getattr(args, "workers", 1) or 1
    try:
        if workers == 1:
            event_loop.run(serve(app), app.config.server.event_loop)
            return 0
        return _start_workers(app, args, workers)
    except (ApiTreeError, StoreUnavailable, CertificateError, MiddlewareError, DbFileError, AssetError,
            StartupError) as exc:
        raise CommandError(f"server not started: {exc}") from None
    except OSError as exc:
        https = app.config.https
        if https.enabled:  # two ports: say both, and how to change the TLS one (--port is http.port)
            where = (f"https.port {https.port}" + (f" or http.port {app.config.http.port}"
                                                   if https.redirect_http else ""))
            fix = ("Stop what uses it, or change https.port in config/environments/<env>.py "
                   "(http.port with --port); ports below 1024 need root or CAP_NET_BIND_SERVICE.")
        else:
            where, fix = f"port {app.config.http.port}", "Stop what uses it or pick another with --port."
        raise CommandError(f"server not started: cannot listen on {where}: {exc.strerror}. {fix}") from None


def _start_workers(app, args: argparse.Namespace, count: int) -> int:
    from .serving import REUSE_PORT, Listeners, bind_listeners, reserve_ports
    from .workers import WorkersError, check_workers, run_workers, worker_main

    try:
        check_workers(count, bool(app.store.shared), app.store.description)
    except WorkersError as exc:
        raise CommandError(str(exc)) from None
    config = app.config
    if config.https.enabled:  # made once here, so the workers do not race to generate a certificate
        from .web.tls import load_certificate

        load_certificate(app.project.root, config.https.cert_name)
    port, host = config.http.port, config.http.host
    listeners: Listeners | Callable[[], Listeners]
    if REUSE_PORT:  # each worker binds its own socket; the parent only holds the port
        reserved = reserve_ports(config, port, host)
        listeners = lambda: bind_listeners(config, port, host, reuse_port=True)  # noqa: E731
    else:
        reserved = []
        bound = bind_listeners(config, port, host)
        bound.shared = True
        listeners = bound
    metrics_dir = _metrics_folder() if config.metrics.enabled else None
    from . import logs

    fmt = str(config.log.get("format", "text"))
    notice = (f"ss: starting {count} workers on one port (pid {os.getpid()} supervises; "
              "SIGHUP restarts them one by one, SIGTERM stops all)")
    print(logs.json_line("info", "ss", notice) if fmt == "json" else notice, flush=True)
    try:
        return run_workers(count, worker_main(lambda: _load_app(args), listeners, config.log.level, fmt, reserved))
    finally:
        for sock in reserved:
            sock.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _metrics_folder() -> str | None:
    """Point prometheus_client's multiprocess mode at a fresh folder (one scrape sees every worker).

    Returns the folder to remove at exit, or None when $PROMETHEUS_MULTIPROC_DIR was set (its
    old files are removed, so a restart starts from zero, as a single process does).
    """
    import tempfile

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):
            if name.endswith(".db"):
                os.remove(os.path.join(given, name))
        return None
    folder = tempfile.mkdtemp(prefix="ss-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder


def cmd_console(args: argparse.Namespace) -> int:
    """An interactive Python console in the app, with ss loaded."""
    from . import logs
    from .rpc.api_tree import ApiTreeError
    from .console import run_console
    from .db_setup import DbFileError
    from .store import StoreUnavailable

    app = _load_app(args)
    logs.configure(min(app.config.log.level, 1))  # the console's own output must stay readable
    try:
        return run_console(app)
    except (ApiTreeError, StoreUnavailable, DbFileError) as exc:
        raise CommandError(f"console not started: {exc}") from None


def _metrics_url(args: argparse.Namespace) -> str:
    """--url, else where the app in this folder serves its metrics, else localhost:3000."""
    if args.url:
        url = args.url if "://" in args.url else f"http://{args.url}"
        return url if url.rstrip("/").endswith("/_ss/metrics") else url.rstrip("/") + "/_ss/metrics"
    port, path = 3000, "/_ss/metrics"
    try:
        from .project import find_project
        from .settings import load_config

        config = load_config(find_project().root, None, None)
        port = int(config.metrics.port or (args.port or config.http.port))
    except Exception:  # not in an app folder, or its config is broken: the default address
        port = args.port or port
    return f"http://127.0.0.1:{port}{path}"


def cmd_top(args: argparse.Namespace) -> int:
    """A live view of a running server, from its /_ss/metrics."""
    from .top import TopError, run

    url = _metrics_url(args)
    try:
        return run(url, interval=max(0.2, args.interval), once=args.once)
    except TopError as exc:
        raise CommandError(str(exc)) from None


def cmd_assets(args: argparse.Namespace) -> int:
    """Pack assets for production into public/assets."""
    from . import logs

    os.environ.setdefault("SS_ENV", "production")
    app = _load_app(args)
    logs.configure(max(2, app.config.log.level))
    from .assets import AssetError
    from .assets.packer import pack

    try:
        result = asyncio.run(pack(app.project.root, app.config))
    except AssetError as exc:
        raise CommandError(f"assets not packed (the previous pack, if any, is untouched): {exc}") from None
    print(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ss", description="ss: real-time single-page apps in Python.")
    parser.add_argument("--version", action="version", version=f"ss {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    new = commands.add_parser("new", help="create a new app in the folder NAME")
    new.add_argument("name", metavar="NAME")
    new.set_defaults(func=cmd_new)
    start = commands.add_parser("start", help="serve the app in this folder (SS_ENV picks the environment)")
    start.add_argument("--port", type=int, help="port to listen on (default: config http.port, 3000)")
    start.add_argument("--workers", type=int, default=1, metavar="N",
                       help="run N server processes on the port (N > 1 needs Redis)")
    start.set_defaults(func=cmd_start)
    assets = commands.add_parser("assets", help="pack the app's assets for production into public/assets")
    assets.set_defaults(func=cmd_assets)
    top = commands.add_parser("top", help="a live view of a running server (calls/s, p50/p99, errors, pub/sub), "
                                          "from its /_ss/metrics")
    top.add_argument("--url", help="the server's address or metrics URL (default: this app's port on 127.0.0.1)")
    top.add_argument("--port", type=int, help="the server's port on 127.0.0.1 (default: config http.port)")
    top.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="refresh period (default 1)")
    top.add_argument("--once", action="store_true", help="print one view (two scrapes, an interval apart) and exit")
    top.set_defaults(func=cmd_top)
    console = commands.add_parser("console", help="an interactive Python console with the app loaded")
    console.set_defaults(func=cmd_console)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
