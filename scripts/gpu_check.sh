#!/usr/bin/env bash
# Issue 18's GPU half in one call: `python scripts/gpu_suite.py` on CUDA (also `presnet bench --suite gpu`; BENCHMARKS.md),
# printing everything and leaving the reports under $OUT (at most 8 files come back from a device call).
#
# The device image has torch, numpy, pyyaml, typer and rich but no pydantic, and it cannot reach a
# package index, so `pip install -e .` cannot work there (it would look for torch==2.14.1): the code
# runs from the tree through PYTHONPATH instead, and pydantic travels as wheels. Once, here, in the
# repository root (the device's python is CPython 3.12 on x86-64; versions as in the dev venv):
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
#     typing-extensions==4.16.0
#
# then one device call: command `bash scripts/gpu_check.sh`, carry [".whl"], timeout_s 600.
# The suite itself is stopped with SIGINT after SUITE_LIMIT_S (default 480 s) so that the report it
# rewrites after each part is still copied back when it runs long.
set -uo pipefail
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
SUITE=/tmp/presnet-gpu-suite

main() {
echo "== machine ($(date -u))"
nvidia-smi || echo "nvidia-smi failed"
"$PY" -c 'import sys, torch; print(sys.version); print("torch", torch.__version__, "cuda", torch.version.cuda,
"available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'

if ! "$PY" -c "import pydantic, yaml" 2>/dev/null; then
  if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      || { echo "error: installing the carried wheels failed"; exit 3; }
    export PYTHONPATH="/tmp/site:$PYTHONPATH"
  else
    echo "error: pydantic is missing on this machine: carry it as wheels in .whl (see this script's header)"
    exit 3
  fi
fi
"$PY" -c "import pydantic; print('pydantic', pydantic.VERSION)"

echo "== python scripts/gpu_suite.py --device ${DEVICE:-cuda}"
rm -rf "$SUITE"
start=$(date +%s)
timeout -s INT -k 30 "${SUITE_LIMIT_S:-480}" "$PY" scripts/gpu_suite.py --device "${DEVICE:-cuda}" --out "$SUITE"
rc=$?
echo "== suite exit code $rc after $(($(date +%s) - start)) s (0: every check passed, 1: a check failed, 124: time limit)"

cp "$SUITE"/gpu_suite.json "$SUITE"/bench-*.json "$OUT"/ 2>/dev/null
cp "$SUITE"/runs/kill-resume.log "$OUT"/ 2>/dev/null
for f in "$SUITE"/runs/*/error.log; do
  [ -f "$f" ] && cp "$f" "$OUT/$(basename "$(dirname "$f")")-error.log"
done
return $rc
}

main 2>&1 | tee "$OUT/gpu_check.log"
rc=${PIPESTATUS[0]}
ls -la "$OUT"
exit "$rc"
