#!/usr/bin/env bash
# Remove the assistant service. Run as root:   sudo systemd/uninstall.sh [--purge]
# Keeps /etc/assistant (your config) and /var/lib/assistant (the models)
# unless --purge is given. Safe to run again.
set -euo pipefail

readonly SERVICE_USER=assistant
readonly PREFIX=/opt/assistant
readonly CONFIG_DIR=/etc/assistant
readonly STATE_DIR=/var/lib/assistant
readonly UNIT=assistant.service

log() { printf 'uninstall: %s\n' "$*"; }
die() { printf 'uninstall: error: %s\n' "$*" >&2; exit 1; }

purge=0
for arg in "$@"; do
    case "$arg" in
        --purge) purge=1 ;;
        -h|--help) printf 'usage: sudo %s [--purge]\n' "$0"; exit 0 ;;
        *) die "unknown option '$arg'; usage: sudo $0 [--purge]" ;;
    esac
done

[[ $EUID -eq 0 ]] || die "run as root: sudo $0 $*"

systemd_running=0
if [[ -d /run/systemd/system ]]; then
    systemd_running=1
fi

remove_unit() {
    local unit="$1" path="/etc/systemd/system/$1"
    [[ -e "$path" ]] || return 0
    if ((systemd_running)); then
        log "stopping and disabling $unit"
        systemctl disable --now "$unit" || true
    else
        systemctl disable "$unit" || true
    fi
    rm -f -- "$path"
    if [[ $unit == assistant-hub.service ]]; then
        rm -rf -- "$path.d"  # the drop-in install.sh wrote from [serve]
    fi
    if ((systemd_running)); then
        systemctl daemon-reload
        systemctl reset-failed "$unit" 2>/dev/null || true
    fi
}

remove_unit "$UNIT"
remove_unit assistant-hub.service  # installed by install.sh --hub

if [[ -d "$PREFIX" ]]; then
    log "removing $PREFIX"
    rm -rf -- "$PREFIX"
fi

if ((purge)); then
    log "purging $CONFIG_DIR, $STATE_DIR and user $SERVICE_USER"
    rm -rf -- "$CONFIG_DIR" "$STATE_DIR"
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        userdel "$SERVICE_USER"
    fi
    # The gpio and audio groups belong to the OS and are left alone.
else
    log "kept $CONFIG_DIR and $STATE_DIR (models); --purge removes them and the user"
fi
log "done"
