#!/bin/sh
# An alert command for qc (docs/events.md, "Alerts"): posts the event's JSON to a webhook
# (Slack- or Discord-style incoming webhooks, ntfy, your own endpoint) with curl.
#   QC_WEBHOOK_URL=https://example.invalid/hook qc-run --on-event examples/alerts/alert-webhook.sh NAME -- ...
# qc kills an alert after 30 s; curl gives up after 10.
: "${QC_WEBHOOK_URL:?set QC_WEBHOOK_URL to the webhook to post to}"
exec curl --silent --show-error --fail --max-time 10 -H 'Content-Type: application/json' \
  --data-binary @- "$QC_WEBHOOK_URL"
