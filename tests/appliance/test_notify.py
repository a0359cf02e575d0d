"""sd_notify against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from assistant.appliance.notify import SystemdNotifier, watchdog_interval_s

TIMEOUT_S = 5.0


@pytest.fixture
def systemd_socket(tmp_path, monkeypatch):
    """A bound datagram socket, with NOTIFY_SOCKET pointing at it."""
    path = tmp_path / "notify"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(TIMEOUT_S)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        yield server
    finally:
        server.close()


def receive(server: socket.socket) -> str:
    return server.recv(4096).decode("utf-8")


def test_sends_each_message_as_one_datagram(systemd_socket):
    with SystemdNotifier() as notifier:
        assert notifier.enabled
        notifier.ready()
        notifier.status("loading models")
        notifier.watchdog()
        notifier.stopping()
        got = [receive(systemd_socket) for _ in range(4)]
    assert got == ["READY=1", "STATUS=loading models", "WATCHDOG=1", "STOPPING=1"]


def test_status_is_kept_on_one_line(systemd_socket):
    with SystemdNotifier() as notifier:
        notifier.status("listening\nto you")
        assert receive(systemd_socket) == "STATUS=listening to you"


def test_abstract_namespace_socket(monkeypatch):
    name = f"assistant-test-{uuid.uuid4().hex}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    server.settimeout(TIMEOUT_S)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    try:
        with SystemdNotifier() as notifier:
            notifier.ready()
            assert receive(server) == "READY=1"
    finally:
        server.close()


def test_explicit_path_wins_over_environment(systemd_socket, tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "elsewhere"))
    with SystemdNotifier(systemd_socket.getsockname()) as notifier:
        notifier.watchdog()
        assert receive(systemd_socket) == "WATCHDOG=1"


def test_no_socket_is_a_silent_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = SystemdNotifier()
    assert not notifier.enabled
    notifier.ready()
    notifier.status("x")
    notifier.watchdog()
    notifier.stopping()
    notifier.close()


def test_unsupported_address_is_disabled(monkeypatch, caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    notifier = SystemdNotifier()
    assert not notifier.enabled
    assert "not a socket path" in caplog.text


def test_missing_listener_warns_once_and_does_not_raise(tmp_path, caplog):
    notifier = SystemdNotifier(str(tmp_path / "nobody-listens"))
    notifier.ready()
    notifier.watchdog()
    notifier.close()
    assert caplog.text.count("cannot notify systemd") == 1


def test_close_is_idempotent_and_stops_sending(systemd_socket):
    notifier = SystemdNotifier()
    notifier.close()
    notifier.close()
    assert not notifier.enabled
    notifier.ready()
    systemd_socket.settimeout(0)
    with pytest.raises(BlockingIOError):
        systemd_socket.recv(4096)


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, 15.0),
        ("30000000", "self", 15.0),
        ("30000000", "other", None),
        ("1000", None, 0.0005),
        ("0", None, None),
        ("", None, None),
        ("soon", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval_is_half_the_timeout(monkeypatch, usec, pid, expected):
    if usec is None:
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    else:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is None:
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
    else:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + (0 if pid == "self" else 1)))
    assert watchdog_interval_s() == expected
