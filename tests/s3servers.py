"""Helpers shared by the S3 test servers."""

import socket

S3_KEY, S3_SECRET = "jdtestaccess", "jdtestsecret0123456789"


def free_port(pair_offset: int | None = None) -> int:
    """A free loopback port (and, if asked, port+offset free too)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if pair_offset is None:
            return port
        if port + pair_offset < 65535:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", port + pair_offset))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port")


