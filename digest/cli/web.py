"""`digest serve`: the unsubscribe endpoint and the web archive, under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli import app
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
            help="Comma-separated proxy addresses whose X-Forwarded-* headers are trusted.",
        ),
    ] = "127.0.0.1",
) -> None:
    """Serve one-click unsubscribe, the archive of sent issues and their web versions.

    Run it behind a reverse proxy that terminates TLS (see docs/deploy.md)."""
    import uvicorn

    from digest.web import create_app

    project = open_project(project_dir())
    web_app = create_app(project)
    console.print(
        f"Serving {project.config.name} on http://{host}:{port} "
        f"(public address: {project.config.base_url})"
    )
    try:
        uvicorn.run(
            web_app,
            host=host,
            port=port,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            server_header=False,
            # the query strings hold unsubscribe tokens: no access log (the proxy keeps one)
            access_log=False,
            log_level="info",
        )
    except OSError as exc:
        raise DigestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
