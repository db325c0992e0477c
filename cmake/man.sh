#!/usr/bin/env bash
# The manual pages, built from the repository's own reference in docs/ with go-md2man
# (Debian's go-md2man: Markdown in, roff out, tables included; what Docker and Podman build
# their pages with). One page per tool (section 1) from its section of docs/tools.md, and
# the formats (section 5) from docs/lock-file.md, docs/config.md and docs/fleet.md.
#   usage: cmake/man.sh DOCS_DIR OUT_DIR VERSION
set -euo pipefail
DOCS=$1 OUT=$2 VERSION=$3
mkdir -p "$OUT/man1" "$OUT/man5"
TOOLS="qc-lock qc-run qc-launch qc-shutdown qc-ps qc-heartbeat"

# Links become their text (the pages name docs/ in SEE ALSO); level-3 headings become level 2.
plain() { sed -e 's/\[\([^]]*\)\]([^)]*)/\1/g' -e 's/^### /## /'; }

see_also() {
  echo
  echo "## SEE ALSO"
  echo
  local pages=""
  for t in $TOOLS; do [ "$t" = "$1" ] || pages+="**$t**(1), "; done
  echo "${pages}**qc-lock-file**(5), **qc-master-config**(5), **qc-fleet**(5)."
  echo
  echo "The reference these pages come from: /usr/share/doc/qc/ (share/doc/qc/ under another install prefix; docs/ in the source)."
}

for tool in $TOOLS; do
  # The tool's section of tools.md: from "## qc-x: summary" to the next "## ".
  section=$(awk -v t="## $tool:" 'index($0, t) == 1 {on = 1; print; next} on && /^## / {exit} on' "$DOCS/tools.md")
  summary=${section%%$'\n'*}
  summary=${summary#*: }
  {
    printf '# %s 1 "" "qc %s" "qc manual"\n\n## NAME\n\n%s - %s\n\n## DESCRIPTION\n' "$tool" "$VERSION" "$tool" "$summary"
    printf '%s\n' "$section" | tail -n +2 | plain
    echo
    echo "## CONVENTIONS"
    echo
    echo "Exit codes, names, times and output formats shared by every tool: conventions.md in /usr/share/doc/qc/."
    see_also "$tool"
  } | go-md2man > "$OUT/man1/$tool.1"
done

while IFS=: read -r page file title; do
  [ -n "$page" ] || continue
  {
    printf '# %s 5 "" "qc %s" "qc manual"\n\n## NAME\n\n%s - %s\n\n## DESCRIPTION\n' "$page" "$VERSION" "$page" "$title"
    tail -n +2 "$DOCS/$file" | sed -e 's/^## /### /' | plain
    see_also ""
  } | go-md2man > "$OUT/man5/$page.5"
done <<EOF2
qc-lock-file:lock-file.md:the lock file and the lock
qc-master-config:config.md:MASTER_CONFIG.json, what qc-launch runs
qc-fleet:fleet.md:the fleet lock across hosts through etcd
EOF2

# Compressed, as Debian installs manual pages; the fleet helpers (qc-lock-fleet, qc-ps-fleet,
# qc-launch-fleet: the same tools, run by them for the fleet) share their tool's page.
gzip -9nf "$OUT"/man1/*.1 "$OUT"/man5/*.5
for tool in qc-lock qc-ps qc-launch; do
  ln -sf "$tool.1.gz" "$OUT/man1/$tool-fleet.1.gz"
done
