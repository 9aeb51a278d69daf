"""How uvicorn serves the app: address, port, shutdown, and which proxies' X-Forwarded-* headers are believed."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..config import Settings


def _uvicorn_form(proxy: str) -> str:
    """An address as given; a network in the strict form uvicorn needs (10.0.0.1/8 -> 10.0.0.0/8), since uvicorn
    silently treats a network it cannot parse as a literal name that never matches."""
    return str(ipaddress.ip_network(proxy, strict=False)) if "/" in proxy else proxy


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run(app, **...)`. X-Forwarded-For/-Proto are believed only from the
    configured trusted proxies: uvicorn's own default trusts 127.0.0.1, which gave any local process a fresh
    rate-limit bucket per forged header. Header and body timeouts are the reverse proxy's job."""
    proxies = ",".join(_uvicorn_form(p) for p in settings.trusted_proxies)
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "timeout_graceful_shutdown": 5,
        # "" rather than None: None makes uvicorn read FORWARDED_ALLOW_IPS from the environment
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies,
    }
