"""The hub unit's drop-in: the [serve] section as systemd firewall lines.

``systemd/install.sh --hub`` writes `drop_in` to
``/etc/systemd/system/assistant-hub.service.d/serve.conf``, so the kernel
admits only the configured subnets and lets the hub bind only its port,
a second fence behind the hub's own allow-list.
Run it as ``python -m assistant.hub.unit [CONFIG]``.
"""

from __future__ import annotations

import sys

from assistant.core.config import ServeConfig, load_config
from assistant.core.errors import AssistantError
from assistant.hub.address import AllowList, check_bind, parse_uri

MDNS_PORT = 5353


def drop_in(serve: ServeConfig, source: str = "the config") -> str:
    """The ``[Service]`` lines for ``serve``; `ConfigError` as `check_bind`."""
    endpoint = parse_uri(serve.uri)
    allow = AllowList(serve.allow)
    check_bind(endpoint, allow, zeroconf=serve.zeroconf)
    lines = [
        f"# Written by systemd/install.sh --hub from the [serve] section of {source};",
        "# run it again after changing serve.uri, serve.allow or serve.zeroconf.",
        "[Service]",
    ]
    lines += [f"IPAddressAllow={network}" for network in allow.networks]
    lines.append(f"SocketBindAllow=tcp:{endpoint.port}")
    if serve.zeroconf:
        lines += ["IPAddressAllow=multicast", f"SocketBindAllow=udp:{MDNS_PORT}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    try:
        config = load_config(argv[0] if argv else None)
        sys.stdout.write(drop_in(config.serve, config.source))
    except AssistantError as exc:
        sys.stderr.write(f"assistant: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
