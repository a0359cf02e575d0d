#!/usr/bin/env bash
# Set up (and by default start) the voice assistant on Debian 12 or 64-bit
# Raspberry Pi OS: system packages, a virtualenv in .venv, the Python package,
# and the models. Safe to run again; a re-run with nothing to do takes seconds.
#
#   ./setup.sh             set up, then start the assistant
#   ./setup.sh --no-start  set up only
#   ./setup.sh --test      set up for ./test.sh: test extras and test models, no start
#   ./setup.sh --models auto     the models `assistant models recommend` picks for
#                          this board and language, written into the user config
#                          (on a Pi, asked interactively when stdin is a terminal)
#
# Environment: PYTHON (default python3) picks the interpreter for .venv.
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")"
export PIP_DISABLE_PIP_VERSION_CHECK=1

test_mode=0
print_llama_args=0
start=1
models=ask
while (( $# )); do
    case "$1" in
        --test) test_mode=1; start=0 ;;
        --no-start) start=0 ;;
        --models=*) models=${1#--models=} ;;
        --models) models=${2:-}; shift ;;
        --print-llama-cmake-args) print_llama_args=1 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$models" in
    ask|auto|default) ;;
    *) echo "setup.sh: --models takes auto or default, not '$models'" >&2; exit 2 ;;
esac

# llama-cpp-python builds llama.cpp from source. Only the libraries the
# appliance loads (libllama and ggml): no multimodal (mtmd/llava), examples,
# tools, tests, server binaries, nor the "common" library they share
# (cmake/llama-only.cmake says why and how). That halves the build. The CPU
# flags stay llama.cpp's own (GGML_NATIVE: on a Pi, built for that Pi). A
# CMAKE_ARGS of the user's (BLAS, say) comes last and wins.
llama_cmake_args="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"
llama_cmake_args+=" -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF"
llama_cmake_args+=" -DCMAKE_PROJECT_llama.cpp_INCLUDE=$PWD/cmake/llama-only.cmake"
llama_cmake_args+="${CMAKE_ARGS:+ $CMAKE_ARGS}"
if (( print_llama_args )); then  # for tests/matrix.sh's portable build
    echo "$llama_cmake_args"
    exit 0
fi

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
# libspeexdsp1: the echo canceller (ctypes, assistant/stages/echo/speex.py).
packages=(python3-venv python3-dev build-essential cmake libportaudio2 libspeexdsp1)
if (( test_mode )); then
    packages+=(espeak-ng sox alsa-utils systemd shellcheck)
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
# convert (onnx): fetching Moonshine, the English recognizer of the default
# and test sets, rebuilds its graphs.
extras=(convert)
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
        "from source: minutes on a PC, more on a Pi"
    CMAKE_ARGS="$llama_cmake_args" \
        .venv/bin/python -m pip install --quiet --progress-bar off -e "$spec"
    for name in base "${extras[@]}"; do
        echo "$hash" >".venv/.setup-stamp-$name"
    done
else
    say "Python packages up to date"
fi

# 4. Models: fetched and checked against the catalogue's SHA-256 sums. The
# embedded default everywhere (CI, a PC) unless --models auto, or, on a Pi
# with someone at the terminal, they accept the board's recommendation.
model_set=default
(( test_mode )) && model_set="test"
if [[ $models == ask ]] && (( is_pi && ! test_mode )) && [[ -t 0 ]]; then
    .venv/bin/python -m assistant.catalog recommend
    read -r -p "==> fetch these models and use them? [y/N] " answer || answer=""
    [[ $answer == [yY]* ]] && models=auto
fi
if [[ $models == auto ]] && (( ! test_mode )); then
    user_config=${ASSISTANT_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/assistant/config.toml}
    mkdir -p "$(dirname "$user_config")"
    say "models recommended for this board, written into $user_config"
    .venv/bin/python -m assistant.catalog recommend --fetch --write-config "$user_config"
else
    say "models ($model_set set)"
    .venv/bin/python -m assistant.catalog fetch --set "$model_set"
    # A config with language = "pt" (or board = "512mb") needs its profile's set too.
    profile_set=$(.venv/bin/python -c 'from assistant.core.config import load_config as c; from assistant.core.profiles import set_name; k = c(); print(set_name(k.language, k.board))' 2>/dev/null || echo en)
    if (( ! test_mode )) && [[ $profile_set != en ]]; then
        say "models of the configured profile ($profile_set set)"
        .venv/bin/python -m assistant.catalog fetch --set "$profile_set"
    fi
fi

# 5. llama.cpp builds for the CPU it is built on. Some virtual machines
# advertise instructions (AMX on recent x86) that they then refuse, and the
# native build dies with SIGILL on the first prompt. Check once per install;
# if it dies, rebuild it portable (GGML_NATIVE=OFF) and keep that wheel.
llama_selftest() {
    # In a subshell, so the shell's report of a SIGILL goes to /dev/null too.
    (.venv/bin/python - "$1" <<'PY'
import sys
import llama_cpp

llm = llama_cpp.Llama(sys.argv[1], n_ctx=128, n_threads=1, verbose=False)
llm.eval(llm.tokenize(b"The quick brown fox jumps over the lazy dog."))
PY
    exit $?) >/dev/null 2>&1
}
gguf=$(.venv/bin/python -c 'from assistant.core.config import load_config as c; import os; m = c().llm.model; print(m if os.path.isabs(m) else os.path.join(c().models_dir, m))' 2>/dev/null || true)
llama_libs() { cat .venv/lib/python3*/site-packages/llama_cpp/lib/*.so 2>/dev/null | sha256sum | cut -c1-64 || true; }
lib_stamp=$(llama_libs)
if [[ -f "$gguf" && "$(cat .venv/.llama-checked 2>/dev/null)" != "$lib_stamp" ]]; then
    if ! llama_selftest "$gguf"; then
        version=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("llama_cpp_python"))')
        wheels="${XDG_CACHE_HOME:-$HOME/.cache}/assistant/wheels"
        built=("$wheels"/llama_cpp_python-"$version"-*.whl)
        wheel=""
        [[ -f ${built[0]} ]] && wheel=${built[0]}
        if [[ -z "$wheel" ]]; then
            say "llama.cpp's native build does not run on this CPU; rebuilding it portable (minutes)"
            mkdir -p "$wheels"
            CMAKE_ARGS="-DGGML_NATIVE=OFF $llama_cmake_args" .venv/bin/python -m pip wheel --quiet --no-deps \
                --no-cache-dir -w "$wheels" "llama-cpp-python==$version"
            built=("$wheels"/llama_cpp_python-"$version"-*.whl)
            wheel=${built[0]}
        fi
        .venv/bin/python -m pip install --quiet --force-reinstall --no-deps "$wheel"
        llama_selftest "$gguf" || die "llama-cpp-python crashes on this CPU even when built portable"
        lib_stamp=$(llama_libs)
    fi
    echo "$lib_stamp" >.venv/.llama-checked
fi

say "set-up done in $(( SECONDS - started )) s"
if (( start )); then
    say "starting the assistant (Ctrl+C to stop)"
    exec .venv/bin/assistant
fi
