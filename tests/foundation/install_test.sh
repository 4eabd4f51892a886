#!/usr/bin/env bash
# cmake --install into a temporary prefix, then build and run a consumer with find_package(tangram).
# The package must be clean for others to build against: no warning flags or -Werror on the
# consumer's compile line, no CUDA library recorded in a consumer that does not use it, no absolute
# library path of this machine in the exported targets, only public headers (self-contained).
set -euo pipefail
build="$1"; source="$2"
prefix=$(mktemp -d); trap 'rm -rf "$prefix"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }
cmake --install "$build" --prefix "$prefix/usr" >/dev/null
test -x "$prefix/usr/bin/tangram"
test -f "$prefix/usr/share/tangram/configs/devices.yaml"
"$prefix/usr/bin/tangram" validate "$prefix/usr/share/tangram/configs/fleets/quota-mix.yaml"

targets="$prefix/usr/lib/cmake/tangram"
[ -d "$targets" ] || targets=$(dirname "$(find "$prefix/usr" -name tangramTargets.cmake | head -1)")
if grep -q "tangram::options\|-Werror\|-Wall" "$targets"/tangramTargets*.cmake; then
  fail "the exported targets carry the build's warning options"
fi
if grep -qE '"/[^"]*lib(nccl|cudart)[^"]*"' "$targets"/tangramTargets*.cmake; then
  fail "the exported targets name an absolute CUDA/NCCL library path"
fi
if grep -q "tangram::tangram_model" "$targets"/tangramTargets*.cmake; then
  fail "the model library is exported as tangram::tangram_model, not tangram::model"
fi
grep -q "tangram::model" "$targets"/tangramTargets*.cmake || fail "tangram::model is not exported"

# Only public headers, and each one's project includes installed too.
include="$prefix/usr/include/tangram"
[ ! -e "$include/orchestrator/cli/command.h" ] || fail "internal header cli/command.h installed"
[ ! -e "$include/collectives/backends.h" ] || fail "internal header collectives/backends.h installed"
for header in $(cd "$include" && find . -name '*.h'); do
  for dep in $(sed -n 's/^#include "\([a-z_/]*\.h\)".*/\1/p' "$include/$header"); do
    if [ -e "$source/$dep" ] && [ ! -e "$include/$dep" ]; then
      fail "$header includes $dep, which is not installed"
    fi
  done
done

# A sanitized build's libraries need the sanitizer runtimes at link time; a consumer of such a
# build (ours under the asan preset) links them itself, as any user of sanitized libraries must.
link_flags=""
if grep -q "^TANGRAM_SANITIZE:BOOL=ON" "$build/CMakeCache.txt" 2>/dev/null; then
  link_flags="-fsanitize=address,undefined"
fi
cmake -S "$source/tests/foundation/install_consumer" -B "$prefix/consumer" \
  -DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_EXE_LINKER_FLAGS="$link_flags" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
cmake --build "$prefix/consumer" -j2 >/dev/null
if grep -q -- "-Werror\|-Wall\|-Wextra" "$prefix/consumer/compile_commands.json"; then
  fail "the consumer's compile line carries Tangram's warning options"
fi
needed=$(readelf -d "$prefix/consumer/consumer" | grep NEEDED || true)
if echo "$needed" | grep -q "libcudart\|libnccl\|libcuda\."; then
  fail "the consumer records a CUDA library it does not use: $needed"
fi
"$prefix/consumer/consumer" "$prefix/usr/share/tangram/configs/fleets/quota-mix.yaml" | grep -q "has 48 devices"
echo "install_test: ok"
