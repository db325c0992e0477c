#!/bin/sh
# An alert command for qc (docs/events.md, "Alerts"): appends one line per event to a file.
#   qc-run --on-event examples/alerts/alert-to-file.sh BRAIN_ATLAS -- python BRAIN_ATLAS.py
#   MASTER_CONFIG.json: "LAUNCH": {"on_event": ["examples/alerts/alert-to-file.sh"], ...}
# QC_ALERT_FILE chooses the file (default: qc-alerts.log in the current directory). The
# event's JSON line arrives on stdin and is appended after the summary.
file=${QC_ALERT_FILE:-qc-alerts.log}
json=$(cat)
printf '%s %s %s account=%s status=%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$QC_EVENT" "$QC_NAME" \
  "${QC_ACCOUNT:--}" "${QC_STATUS:--}" "$json" >> "$file"
