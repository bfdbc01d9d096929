"""The web side of a project, one Starlette stack: `app` (the factory), a module per surface
(`signup`: sign-up, confirmation and preferences; `unsubscribe`; `archive`, with its feed),
`pages` (the pages' shared parts), `middleware` (security headers, host check, bounded forms,
CSRF), `server` (uvicorn with its limits) and `port` (`digest serve`'s port check)."""

from digest.web.app import create_app
from digest.web.middleware import SECURITY_HEADERS, SecurityHeaders, trusted_host
from digest.web.server import connection_limit, serve, server_config

__all__ = [
    "SECURITY_HEADERS",
    "SecurityHeaders",
    "connection_limit",
    "create_app",
    "serve",
    "server_config",
    "trusted_host",
]
