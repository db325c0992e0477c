# An alert command for qc on Windows (docs/events.md, "Alerts"): posts the event's JSON to a
# webhook with Invoke-RestMethod. In MASTER_CONFIG.json:
#   "on_event": ["powershell", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File", "examples\\alerts\\alert-webhook.ps1"]
# with QC_WEBHOOK_URL set in qc-launch's environment. qc kills an alert after 30 s.
$ErrorActionPreference = 'Stop'
if (-not $env:QC_WEBHOOK_URL) { Write-Error 'set QC_WEBHOOK_URL to the webhook to post to'; exit 2 }
$json = [Console]::In.ReadToEnd()
Invoke-RestMethod -Uri $env:QC_WEBHOOK_URL -Method Post -ContentType 'application/json' -Body $json -TimeoutSec 10 | Out-Null
