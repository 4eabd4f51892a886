#!/bin/bash
# Save on 2 ranks; resume on 3 under another plan, then refuse corrupted copies (same run):
# checkpoint_resume.sh PYTHON PKG_DIR CKPT_DIR
set -u
python=$1 pkg=$2 ckpt=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$ckpt" "$ckpt"-*
trap 'rm -rf "$ckpt" "$ckpt"-*' EXIT
for phase in save:2 resume:3; do
  "$here/run_mpi.sh" "$python" "$pkg" "${phase#*:}" "$here/checkpoint_resume.py" "${phase%:*}" \
    "$ckpt" || exit $?
done
