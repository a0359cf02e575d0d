#!/usr/bin/env bash
# The real-model tests (-m slow) under the numerics of other CPUs: each cell
# changes how CTranslate2 (Whisper), llama.cpp and onnxruntime (piper,
# Silero) compute, the way another CPU, thread count or build does. A test
# that passes in every cell asserts what the code guarantees, not what one
# machine's floating point happened to give. CI runs the default cell only.
#
#   tests/matrix.sh              every cell
#   tests/matrix.sh generic avx  those cells
#   tests/matrix.sh --list       the cells and what they set
#
# Extra arguments after -- go to pytest (e.g. -- tests/stages/llm -x).
# Run ./setup.sh --test first. The portable cell builds llama-cpp-python with
# GGML_NATIVE=OFF once (minutes) into .matrix/, beside the native build in
# .venv, and puts it first on PYTHONPATH; .venv is not touched.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

# name|environment|what it varies. The dimensions are crossed so that every
# value of each appears in some cell: four cells instead of nine.
cells=(
    "default||this machine: native llama.cpp, CTranslate2's own ISA, int8, default threads"
    "generic|CT2_FORCE_CPU_ISA=GENERIC ASSISTANT_TEST_LLAMA_THREADS=1 ASSISTANT_TEST_ORT_THREADS=1|CTranslate2 without SIMD; llama.cpp and onnxruntime on 1 thread"
    "avx|CT2_FORCE_CPU_ISA=AVX ASSISTANT_TEST_LLAMA_THREADS=2 ASSISTANT_TEST_ORT_THREADS=2|CTranslate2 on AVX; llama.cpp and onnxruntime on 2 threads"
    "portable|CT2_FORCE_CPU_ISA=AVX2 ASSISTANT_TEST_CT2_COMPUTE_TYPE=float32 LLAMA_PORTABLE=1|CTranslate2 on AVX2 in float32; llama.cpp built portable (GGML_NATIVE=OFF)"
)
# On aarch64 CTranslate2 knows only its NEON and generic paths.
if [[ $(uname -m) != x86_64 ]]; then
    cells=("${cells[@]/CT2_FORCE_CPU_ISA=AVX2 /}")
    cells=("${cells[@]/CT2_FORCE_CPU_ISA=AVX /}")
fi

pytest_args=()
wanted=()
while (( $# )); do
    case "$1" in
        --list) for cell in "${cells[@]}"; do IFS='|' read -r n e w <<<"$cell"; printf '%-9s %s\n          %s\n' "$n" "$w" "${e:-(nothing set)}"; done; exit 0 ;;
        --) shift; pytest_args=("$@"); break ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) wanted+=("$1") ;;
    esac
    shift
done
[[ -x .venv/bin/python ]] || { echo "matrix.sh: no .venv; run ./setup.sh --test first" >&2; exit 2; }
(( ${#pytest_args[@]} )) || pytest_args=(tests)
for name in "${wanted[@]}"; do
    printf '%s\n' "${cells[@]}" | cut -d'|' -f1 | grep -qx "$name" \
        || { echo "matrix.sh: no cell '$name' (try --list)" >&2; exit 2; }
done

portable_dir() {
    local version dir
    version=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("llama_cpp_python"))')
    dir=.matrix/llama-portable-$version
    if [[ ! -f $dir/.done ]]; then
        echo "==> building llama-cpp-python $version portable (GGML_NATIVE=OFF) into $dir" >&2
        rm -rf "$dir" && mkdir -p "$dir"
        CMAKE_ARGS="-DGGML_NATIVE=OFF $(./setup.sh --print-llama-cmake-args)" \
            .venv/bin/python -m pip install --quiet --no-deps --no-cache-dir \
            --target "$dir" "llama-cpp-python==$version" >&2
        touch "$dir/.done"
    fi
    echo "$PWD/$dir"
}

mkdir -p .matrix
results=()
status=0
for cell in "${cells[@]}"; do
    IFS='|' read -r name settings what <<<"$cell"
    if (( ${#wanted[@]} )) && ! printf '%s\n' "${wanted[@]}" | grep -qx "$name"; then
        continue
    fi
    env_args=()
    pythonpath=${PYTHONPATH:-}
    for setting in $settings; do
        if [[ $setting == LLAMA_PORTABLE=1 ]]; then
            pythonpath=$(portable_dir)${pythonpath:+:$pythonpath}
        else
            env_args+=("$setting")
        fi
    done
    echo "==> cell $name: $what"
    started=$SECONDS
    set +e
    env "${env_args[@]}" PYTHONPATH="$pythonpath" .venv/bin/python -m pytest -m slow -q \
        -p no:cacheprovider "${pytest_args[@]}" 2>&1 | tee ".matrix/$name.log" | tail -n 15
    code=${PIPESTATUS[0]}
    set -e
    summary=$(grep -E '(passed|failed|error).* in [0-9.]+s' ".matrix/$name.log" | tail -n 1 | tr -d '=' | xargs || true)
    results+=("$(printf '%-9s %-5s %4d s  %s' "$name" "$([[ $code == 0 ]] && echo pass || echo FAIL)" $(( SECONDS - started )) "$summary")")
    (( code == 0 )) || status=1
done
echo "==> matrix"
printf '%s\n' "${results[@]}"
exit $status
