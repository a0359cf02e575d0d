#!/usr/bin/env bash
# Install the assistant as a boot-time systemd service. Run as root from a
# checkout:   sudo systemd/install.sh [--no-apt] [--no-models] [--no-start] [--hub]
# Safe to run again: it upgrades the code and keeps /etc/assistant/config.toml
# and the downloaded models. See systemd/README.md.
set -euo pipefail

readonly SERVICE_USER=assistant
readonly PREFIX=/opt/assistant
readonly VENV="$PREFIX/venv"
readonly CONFIG_DIR=/etc/assistant
readonly CONFIG="$CONFIG_DIR/config.toml"
readonly STATE_DIR=/var/lib/assistant
readonly MODELS_DIR="$STATE_DIR/models"
UNIT=assistant.service
# The OS interpreter, not whatever `python3` is first on root's PATH (pyenv,
# conda): the service user must be able to run the venv's python.
readonly SYSTEM_PYTHON="${ASSISTANT_PYTHON:-/usr/bin/python3}"
# Runtime libraries, plus what llama-cpp-python needs to build from source on
# arm64 (PyPI has no aarch64 wheel for it).
readonly APT_PACKAGES=(python3-venv python3-dev build-essential cmake libportaudio2)

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_DIR

log() { printf 'install: %s\n' "$*"; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<EOF
usage: sudo $0 [--no-apt] [--no-models] [--no-start] [--hub]
  --no-apt     do not apt-get install missing system packages
  --no-models  do not fetch models (copy them into $MODELS_DIR yourself)
  --no-start   install and enable, but do not (re)start the service
  --hub        install assistant-hub.service (\`assistant serve\`, docs/lan.md) instead
EOF
}

with_apt=1 with_models=1 with_start=1
for arg in "$@"; do
    case "$arg" in
        --no-apt) with_apt=0 ;;
        --no-models) with_models=0 ;;
        --no-start) with_start=0 ;;
        --hub) UNIT=assistant-hub.service ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$arg'" ;;
    esac
done

readonly UNIT
readonly UNIT_PATH="/etc/systemd/system/$UNIT"

[[ $EUID -eq 0 ]] || die "run as root: sudo $0 $*"
[[ -f "$REPO_DIR/pyproject.toml" ]] || die "$REPO_DIR is not the assistant checkout (no pyproject.toml)"

on_pi=0
if tr -d '\0' </proc/device-tree/model 2>/dev/null | grep -q 'Raspberry Pi'; then
    on_pi=1
fi

install_system_packages() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        return
    fi
    command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get; install them"
    log "installing system packages: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

create_user() {
    local group
    # The unit's SupplementaryGroups= fails to start if a group is missing.
    # Raspberry Pi OS has both; elsewhere gpio is created (harmless).
    for group in audio gpio; do
        if ! getent group "$group" >/dev/null; then
            log "creating group $group"
            groupadd --system "$group"
        fi
    done
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        usermod --append --groups audio,gpio "$SERVICE_USER"
    else
        log "creating system user $SERVICE_USER"
        useradd --system --user-group --groups audio,gpio \
            --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "voice assistant" "$SERVICE_USER"
    fi
    install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR" "$MODELS_DIR"
}

install_package() {
    # Build from a clean copy: a build in the checkout would leave root-owned
    # build/ and *.egg-info there, and stale build/ files get packaged again.
    local src
    src="$(mktemp -d)"
    cp -r -- "$REPO_DIR/pyproject.toml" "$REPO_DIR/README.md" "$REPO_DIR/assistant" "$src/"
    local spec="$src" extras=""
    if ((on_pi)); then
        extras="pi"
    fi
    if [[ $UNIT == assistant-hub.service ]]; then
        extras="${extras:+$extras,}hub"  # the wyoming and zeroconf packages
    fi
    if [[ -n $extras ]]; then
        spec="${src}[$extras]"
    fi
    install -d -m 0755 "$PREFIX"
    if [[ -e "$VENV" ]] && ! runuser -u "$SERVICE_USER" -- "$VENV/bin/python" -c '' 2>/dev/null; then
        log "recreating $VENV: user $SERVICE_USER cannot run its python"
        rm -rf -- "$VENV"
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
        "$SYSTEM_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || die "$SYSTEM_PYTHON is older than Python 3.11; use 64-bit Raspberry Pi OS Bookworm or newer"
        log "creating $VENV with $SYSTEM_PYTHON"
        "$SYSTEM_PYTHON" -m venv "$VENV"
    fi
    # Building llama.cpp with one job per core can run a 2 GB Pi out of memory.
    local mem_kb jobs
    mem_kb="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
    jobs="$(nproc)"
    if ((mem_kb < 3000000 && jobs > 2)); then
        jobs=2
    fi
    log "installing $spec into $VENV (building llama-cpp-python can take 20+ minutes on a Pi)"
    CMAKE_BUILD_PARALLEL_LEVEL="$jobs" "$VENV/bin/pip" install "$spec"
    # Same version number as before still has to pick up changed code.
    "$VENV/bin/pip" install --no-deps --force-reinstall "$src"
    rm -rf -- "$src"
}

write_config() {
    if [[ -e "$CONFIG" ]]; then
        log "keeping existing $CONFIG"
        return
    fi
    log "writing $CONFIG"
    install -d -m 0755 "$CONFIG_DIR"
    local tmp
    tmp="$(mktemp)"
    cat >"$tmp" <<EOF
# Voice assistant configuration, written by systemd/install.sh and kept on
# reinstall. Every key and its default: \`$VENV/bin/assistant config show\`.

[paths]
models_dir = "$MODELS_DIR"
EOF
    install -m 0644 "$tmp" "$CONFIG"
    rm -f "$tmp"
}

fetch_models() {
    log "fetching the default models into $MODELS_DIR"
    # Download as the service user, not as root; the chown covers files copied in by hand.
    runuser -u "$SERVICE_USER" -- env HOME="$STATE_DIR" \
        "$VENV/bin/python" -m assistant.catalog --models-dir "$MODELS_DIR" fetch --set default
    chown -R "$SERVICE_USER:$SERVICE_USER" "$MODELS_DIR"
}

write_hub_drop_in() {
    # The kernel's fence behind the hub's own allow-list: the [serve] subnets
    # and port, from the config (assistant/hub/unit.py).
    local dir="$UNIT_PATH.d" tmp
    tmp="$(mktemp)"
    "$VENV/bin/python" -m assistant.hub.unit "$CONFIG" >"$tmp" \
        || die "fix [serve] in $CONFIG, then run this again"
    install -d -m 0755 "$dir"
    install -m 0644 "$tmp" "$dir/serve.conf"
    rm -f "$tmp"
    log "wrote $dir/serve.conf from [serve] in $CONFIG"
}

install_unit() {
    log "installing $UNIT_PATH"
    install -m 0644 "$REPO_DIR/systemd/$UNIT" "$UNIT_PATH"
    if [[ $UNIT == assistant-hub.service ]]; then
        write_hub_drop_in
    fi
    if [[ ! -d /run/systemd/system ]]; then
        # A chroot or an image build: enable for the next boot only.
        systemctl enable "$UNIT"
        log "systemd is not running here; $UNIT will start at next boot"
        return
    fi
    systemctl daemon-reload
    systemctl enable "$UNIT"
    if ((with_start)); then
        # restart, not start: a reinstall must run the new code.
        systemctl restart "$UNIT"
        log "started; follow it with: journalctl -fu $UNIT"
    fi
}

if ((with_apt)); then
    install_system_packages
fi
create_user
install_package
write_config
if ((with_models)); then
    fetch_models
fi
install_unit
log "done"
