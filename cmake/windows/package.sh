#!/usr/bin/env bash
# make windows-package: the Windows zip. Everything in one folder, so that the batch files
# find the tools beside them and MASTER_LAUNCH.bat runs the example config as it is:
#   qc-<version>-windows/  the six .exe files (static: only Windows' own DLLs), the batch
#                          files, Qc.psm1, MASTER_CONFIG.json (examples/windows: a gateway and
#                          one stand-in BRAIN per account, all qc-heartbeat responders),
#                          README.md and docs/ (the reference, as text).
#   usage: package.sh BIN_DIR OUT_DIR VERSION
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
name=qc-$3-windows
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/docs"
for tool in qc-lock qc-run qc-launch qc-shutdown qc-ps qc-heartbeat; do
  [ -f "$bin/$tool.exe" ] || { echo "package.sh: $bin/$tool.exe is missing: run make windows first" >&2; exit 66; }
  cp "$bin/$tool.exe" "$stage/$name/"
done
cp "$here"/batch/*.bat "$here/ps1/Qc.psm1" "$here/README.md" "$stage/$name/"
cp "$here/examples/windows/MASTER_CONFIG.json" "$stage/$name/"
for doc in "$here"/docs/*.md; do cp "$doc" "$stage/$name/docs/$(basename "$doc" .md).txt"; done
# Windows line endings for what Notepad and cmd read.
for f in "$stage/$name"/*.bat "$stage/$name"/*.json "$stage/$name"/docs/*.txt "$stage/$name/README.md"; do
  sed -i 's/\r*$/\r/' "$f"
done
rm -f "$out/$name.zip"
(cd "$stage" && cmake -E tar cf "$out/$name.zip" --format=zip "$name")
echo "$out/$name.zip"
