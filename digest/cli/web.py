"""`digest serve`: sign-up, preferences, unsubscribe and the web archive, under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli._app import app
from digest.cli._common import command, console, project_dir
from digest.errors import DigestError
from digest.project import open_project


@command(app, "serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=0, max=65535)
    ] = 8080,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="Trust X-Forwarded-For/-Proto from the addresses in --forwarded-allow-ips.",
        ),
    ] = True,
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated proxy addresses whose X-Forwarded-* headers are trusted (the"
            " sign-up limit counts per client: the proxy's address must be listed).",
        ),
    ] = "127.0.0.1",
    request_timeout: Annotated[
        float | None,
        typer.Option(
            "--request-timeout",
            min=0.1,
            help="Seconds a client has to send a whole request (headers and body) [default: 20].",
        ),
    ] = None,
    limit_concurrency: Annotated[
        int | None,
        typer.Option(
            "--limit-concurrency",
            min=1,
            help="Connections at once; more are answered 503 [default: 200].",
        ),
    ] = None,
    backlog: Annotated[
        int | None,
        typer.Option("--backlog", min=1, help="Connections waiting to be accepted [default: 128]."),
    ] = None,
) -> None:
    """Serve sign-up (double opt-in), preferences, one-click unsubscribe and the archive.

    Run it behind a reverse proxy that terminates TLS (see docs/deploy.md)."""
    from digest.web import create_app, serve
    from digest.web.port import check_can_listen

    project = open_project(project_dir())
    check_can_listen(host, port)
    web_app = create_app(project)
    console.print(
        f"Serving {project.config.name} on http://{host}:{port} "
        f"(public address: {project.config.base_url})"
    )
    try:
        serve(
            web_app,
            host=host,
            port=port,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            request_timeout=request_timeout,
            limit_concurrency=limit_concurrency,
            backlog=backlog,
        )
    except OSError as exc:
        raise DigestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
