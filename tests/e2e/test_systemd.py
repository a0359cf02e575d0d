"""The systemd unit and the install scripts, checked with systemd's own tools."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT, child_env

SYSTEMD_DIR = ROOT / "systemd"
UNIT = SYSTEMD_DIR / "assistant.service"
MAX_EXPOSURE = 2.5


def directives(text: str) -> dict[str, list[str]]:
    """``Section.Key`` -> values, in order; systemd allows repeated keys."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return found


def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (./setup.sh --test does)")
    return tool


@pytest.fixture
def verifiable_unit(tmp_path) -> Path:
    """The unit with ExecStart pointing at a binary that exists here.

    `systemd-analyze verify` insists the ExecStart binary exists; User= and
    SupplementaryGroups= are not checked, so the assistant user need not exist.
    """
    true = shutil.which("true")
    assert true is not None
    text = re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={true}", UNIT.read_text())
    copy = tmp_path / "assistant.service"
    copy.write_text(text)
    return copy


def test_unit_has_the_required_directives():
    d = directives(UNIT.read_text())
    expected = {
        "Service.Type": ["notify"],
        "Service.NotifyAccess": ["main"],
        "Service.ExecStart": ["/opt/assistant/venv/bin/assistant run"],
        "Service.WatchdogSec": ["30"],
        "Service.TimeoutStartSec": ["300"],
        "Service.Restart": ["on-failure"],
        "Service.RestartSec": ["5"],
        "Service.User": ["assistant"],
        "Service.Group": ["assistant"],
        "Service.SupplementaryGroups": ["audio gpio"],
        "Service.StateDirectory": ["assistant"],
        "Service.NoNewPrivileges": ["yes"],
        "Service.ProtectSystem": ["strict"],
        "Service.PrivateNetwork": ["yes"],
        "Service.RestrictAddressFamilies": ["AF_UNIX"],
        "Service.IPAddressDeny": ["any"],
        "Service.CapabilityBoundingSet": [""],
        "Service.DevicePolicy": ["closed"],
        "Service.DeviceAllow": ["char-alsa rw", "char-gpiochip rw"],
        "Install.WantedBy": ["multi-user.target"],
    }
    for key, values in expected.items():
        assert d.get(key) == values, key
    assert "ASSISTANT_CONFIG=/etc/assistant/config.toml" in d["Service.Environment"]
    # lgpio needs a writable working directory for its FIFOs.
    assert d["Service.WorkingDirectory"] == ["/run/assistant"]
    assert d["Service.RuntimeDirectory"] == ["assistant"]
    # Deliberately off: they break the audio callback and board detection.
    assert "Service.MemoryDenyWriteExecute" not in d
    assert "Service.ProcSubset" not in d
    assert "Service.PrivateDevices" not in d


def test_systemd_analyze_verify_passes(verifiable_unit):
    result = subprocess.run(
        [systemd_analyze(), "verify", str(verifiable_unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "assistant.service" not in result.stderr, result.stderr


def test_security_exposure_is_low():
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for assistant\.service: ([\d.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


@pytest.mark.parametrize("script", ["install.sh", "uninstall.sh"])
def test_scripts_are_strict_bash_and_parse(script):
    path = SYSTEMD_DIR / script
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert_shellcheck_clean(path)


def assert_shellcheck_clean(path: Path) -> None:
    if not shutil.which("shellcheck"):
        pytest.fail("shellcheck is missing: apt-get install shellcheck (./setup.sh --test does)")
    result = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("script", ["setup.sh", "test.sh", "tests/matrix.sh", ".ci/run"])
def test_the_checkouts_own_scripts_pass_shellcheck(script):
    assert_shellcheck_clean(ROOT / script)


@pytest.mark.parametrize("script", ["install.sh", "uninstall.sh"])
def test_scripts_reject_unknown_options_before_touching_anything(script):
    result = subprocess.run(
        ["bash", str(SYSTEMD_DIR / script), "--bogus"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert "unknown option '--bogus'" in result.stderr


@pytest.mark.parametrize("name", ["asound-usb.conf", "asound-respeaker-2mic.conf"])
def test_alsa_examples_parse_and_define_the_shared_devices(name, tmp_path):
    aplay = shutil.which("aplay")
    if aplay is None:
        pytest.fail("aplay is missing: apt-get install alsa-utils (./setup.sh --test does)")
    example = SYSTEMD_DIR.parent / "hardware" / name
    top = tmp_path / "alsa.conf"
    top.write_text(f"</usr/share/alsa/alsa.conf>\n<{example}>\n")
    result = subprocess.run(
        [aplay, "-L"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"ALSA_CONFIG_PATH": str(top), "PATH": "/usr/bin:/bin"},
    )
    assert "ALSA lib" not in result.stderr, result.stderr
    names = result.stdout.split()
    assert {"default", "mic_snoop", "speaker_mix"} <= set(names)


# -- the hub unit (`assistant serve`, installed by install.sh --hub) ----------

HUB_UNIT = SYSTEMD_DIR / "assistant-hub.service"


def hub_unit_with(tmp_path: Path, drop_in: str = "") -> Path:
    """The hub unit as systemd would see it with ``drop_in`` applied, its
    ExecStart pointing at a binary that exists here (for `verify`)."""
    true = shutil.which("true")
    assert true is not None
    text = re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={true}", HUB_UNIT.read_text())
    extra = "\n".join(line for line in drop_in.splitlines() if "=" in line and line[0] != "#")
    text = text.replace("\n[Install]", f"\n{extra}\n\n[Install]")
    copy = tmp_path / "assistant-hub.service"
    copy.write_text(text)
    return copy


def test_hub_unit_serves_and_admits_only_loopback_until_configured():
    d = directives(HUB_UNIT.read_text())
    expected = {
        "Service.Type": ["notify"],
        "Service.ExecStart": ["/opt/assistant/venv/bin/assistant serve"],
        "Service.WatchdogSec": ["30"],
        "Service.User": ["assistant"],
        "Service.NoNewPrivileges": ["yes"],
        "Service.ProtectSystem": ["strict"],
        "Service.PrivateDevices": ["yes"],
        "Service.PrivateUsers": ["yes"],
        "Service.IPAddressDeny": ["any"],
        "Service.IPAddressAllow": ["localhost"],
        "Service.SocketBindDeny": ["any"],
        "Service.CapabilityBoundingSet": [""],
        "Install.WantedBy": ["multi-user.target"],
    }
    for key, values in expected.items():
        assert d.get(key) == values, key
    assert "Service.SupplementaryGroups" not in d  # no sound card, no GPIO
    assert "Service.PrivateNetwork" not in d
    # The standalone appliance stays fully offline.
    standalone = directives(UNIT.read_text())
    assert standalone["Service.IPAddressDeny"] == ["any"]
    assert "Service.IPAddressAllow" not in standalone


def test_hub_drop_in_admits_the_configured_subnets_and_port():
    from assistant.core.config import ServeConfig
    from assistant.hub.unit import drop_in

    serve = ServeConfig(uri="tcp://0.0.0.0:10700", allow=["192.168.1.0/24", "fd00::/8"])
    d = directives(drop_in(serve))
    assert d["Service.IPAddressAllow"] == ["192.168.1.0/24", "fd00::/8"]
    assert d["Service.SocketBindAllow"] == ["tcp:10700"]
    d = directives(drop_in(ServeConfig(uri="tcp://127.0.0.1:10800")))
    assert "Service.IPAddressAllow" not in d and d["Service.SocketBindAllow"] == ["tcp:10800"]
    with_mdns = ServeConfig(uri="tcp://192.168.1.2:10700", allow=["192.168.1.0/24"], zeroconf=True)
    d = directives(drop_in(with_mdns))
    assert "multicast" in d["Service.IPAddressAllow"] and "udp:5353" in d["Service.SocketBindAllow"]


def test_hub_drop_in_refuses_a_lan_bind_without_subnets(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[serve]\nuri = "tcp://0.0.0.0:10700"\n')
    result = subprocess.run(
        [sys.executable, "-m", "assistant.hub.unit", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
    )
    assert result.returncode == 2 and "serve.allow is empty" in result.stderr
    assert result.stdout == ""


def test_hub_unit_with_its_drop_in_verifies(tmp_path):
    from assistant.core.config import ServeConfig
    from assistant.hub.unit import drop_in

    serve = ServeConfig(uri="tcp://0.0.0.0:10700", allow=["192.168.1.0/24"], zeroconf=True)
    unit = hub_unit_with(tmp_path, drop_in(serve))
    result = subprocess.run(
        [systemd_analyze(), "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "assistant-hub.service" not in result.stderr, result.stderr


@pytest.mark.parametrize("configured", [False, True])
def test_hub_security_exposure_is_low(tmp_path, configured):
    from assistant.core.config import ServeConfig
    from assistant.hub.unit import drop_in

    serve = ServeConfig(uri="tcp://0.0.0.0:10700", allow=["192.168.1.0/24"])
    unit = hub_unit_with(tmp_path, drop_in(serve) if configured else "")
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for assistant-hub\.service: ([\d.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def test_install_script_offers_the_hub():
    result = subprocess.run(
        ["bash", str(SYSTEMD_DIR / "install.sh"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0 and "--hub" in result.stdout
    script = (SYSTEMD_DIR / "install.sh").read_text()
    assert '"$VENV/bin/python" -m assistant.hub.unit "$CONFIG"' in script
