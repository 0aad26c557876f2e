#!/usr/bin/env bash
# Rebuild tokkit/_native.abi3.so in place, atomically (build, copy beside, rename), so processes
# that have the old library loaded keep working. Used for development; setup.sh uses pip -e.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
(cd native && PYO3_PYTHON="$(realpath ../$PY)" cargo build --release -q --features pyo3/extension-module)
cp native/target/release/lib_native.so tokkit/_native.abi3.so.tmp
mv -f tokkit/_native.abi3.so.tmp tokkit/_native.abi3.so
