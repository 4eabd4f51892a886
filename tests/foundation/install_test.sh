#!/usr/bin/env bash
# cmake --install into a temporary prefix, then build and run a consumer with find_package(tangram).
set -euo pipefail
build="$1"; source="$2"
prefix=$(mktemp -d); trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix/usr" >/dev/null
test -x "$prefix/usr/bin/tangram"
test -f "$prefix/usr/share/tangram/configs/devices.yaml"
"$prefix/usr/bin/tangram" validate "$prefix/usr/share/tangram/configs/fleets/quota-mix.yaml"
cmake -S "$source/tests/foundation/install_consumer" -B "$prefix/consumer" \
  -DCMAKE_PREFIX_PATH="$prefix/usr" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$prefix/consumer" -j2 >/dev/null
"$prefix/consumer/consumer" "$prefix/usr/share/tangram/configs/fleets/quota-mix.yaml" | grep -q "has 48 devices"
echo "install_test: ok"
