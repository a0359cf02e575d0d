#!/usr/bin/env bash
# Set up (and by default start) the voice assistant on Debian 12 or 64-bit
# Raspberry Pi OS: system packages, a virtualenv in .venv, the Python package,
# and the models. Safe to run again; a re-run with nothing to do takes seconds.
#
#   ./setup.sh             set up, then start the assistant
#   ./setup.sh --no-start  set up only
#   ./setup.sh --test      set up for ./test.sh: test extras and test models, no start
#
# Environment: PYTHON (default python3) picks the interpreter for .venv.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"
export PIP_DISABLE_PIP_VERSION_CHECK=1

test_mode=0
start=1
for arg in "$@"; do
    case "$arg" in
        --test) test_mode=1; start=0 ;;
        --no-start) start=0 ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }
started=$SECONDS

# 1. Python 3.11 or newer.
python=${PYTHON:-python3}
command -v "$python" >/dev/null || die "$python not found; install python3 (3.11 or newer)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$("$python" -V 2>&1) is too old; 3.11 or newer is needed (Debian 12 / Raspberry Pi OS bookworm ship it)"

# 2. System packages, installed only when missing (apt is not touched otherwise).
is_pi=0
if [[ -r /proc/device-tree/model ]] && tr -d '\0' </proc/device-tree/model | grep -q "Raspberry Pi"; then
    is_pi=1
fi
packages=(python3-venv python3-dev build-essential cmake libportaudio2)
if (( test_mode )); then
    packages+=(espeak-ng sox alsa-utils)
fi
if command -v dpkg-query >/dev/null; then
    missing=()
    for pkg in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if (( ${#missing[@]} )); then
        sudo=()
        if (( EUID != 0 )); then
            command -v sudo >/dev/null || die "install as root: apt-get install ${missing[*]}"
            sudo=(sudo)
        fi
        say "installing system packages: ${missing[*]}"
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
else
    say "not a Debian system: make sure these are installed: ${packages[*]}"
fi

# 3. The virtualenv and the package (skipped when pyproject.toml and extras are unchanged).
if [[ ! -x .venv/bin/python ]]; then
    say "creating .venv"
    "$python" -m venv .venv
fi
extras=()
(( test_mode )) && extras+=(test)
(( is_pi )) && extras+=(pi)
spec="."
if (( ${#extras[@]} )); then
    spec=".[$(IFS=,; echo "${extras[*]}")]"
fi
# One stamp per extra ("base" for the package itself) holding the hash of the
# pyproject.toml it was installed from, so switching between ./setup.sh and
# ./test.sh does not reinstall.
hash=$(sha256sum pyproject.toml | cut -d' ' -f1)
stale=0
for name in base "${extras[@]}"; do
    [[ "$(cat ".venv/.setup-stamp-$name" 2>/dev/null)" == "$hash" ]] || stale=1
done
if (( stale )); then
    say "installing Python packages ($spec); the first run builds llama-cpp-python" \
        "from source: minutes on a PC, 15-30 on a Pi"
    .venv/bin/python -m pip install --quiet --progress-bar off -e "$spec"
    for name in base "${extras[@]}"; do
        echo "$hash" >".venv/.setup-stamp-$name"
    done
else
    say "Python packages up to date"
fi

# 4. Models: fetched and checked against the catalogue's SHA-256 sums.
model_set=default
(( test_mode )) && model_set="test"
say "models ($model_set set)"
.venv/bin/python -m assistant.models fetch --set "$model_set"

say "set-up done in $(( SECONDS - started )) s"
if (( start )); then
    say "starting the assistant (Ctrl+C to stop)"
    exec .venv/bin/assistant
fi
