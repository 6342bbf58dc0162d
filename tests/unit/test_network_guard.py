import socket

import pytest


def test_tests_cannot_reach_past_loopback() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(ConnectionRefusedError, match="loopback"):
            sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed; refused before any packet leaves
    finally:
        sock.close()
