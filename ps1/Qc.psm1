# Qc.psm1: qc's tools as PowerShell functions. They hold no logic of their own: each runs a
# binary and passes its output (as objects where it is JSON) and its exit code
# ($LASTEXITCODE) on.   Import-Module .\ps1\Qc.psm1
# The binaries are found in $env:QC_BIN, else beside this module's parent folder, else on PATH.

function Get-QcTool([string]$Name) {
    if ($env:QC_BIN) { return Join-Path $env:QC_BIN "$Name.exe" }
    $root = Split-Path $PSScriptRoot -Parent
    # Beside the module's folder (the Windows zip), else where the README's build puts them.
    foreach ($dir in @($root, (Join-Path $root 'build-win\bin'), (Join-Path $root 'build\bin'))) {
        $candidate = Join-Path $dir "$Name.exe"
        if (Test-Path $candidate) { return $candidate }
    }
    return "$Name.exe"
}

# The MASTER_CONFIG.json beside the module's folder, if there is one.
function Get-QcDefaultConfig {
    $beside = Join-Path (Split-Path $PSScriptRoot -Parent) 'MASTER_CONFIG.json'
    if (Test-Path $beside) { return $beside }
    return 'MASTER_CONFIG.json'
}

# What runs: one object per lock (name, state, pid, child_pid, account, host, started,
# uptime_s, restarts, command, lock_file), from qc-ps --json.
function Get-QcProcess {
    [CmdletBinding()]
    param([string[]]$Name, [switch]$All, [string]$Scan, [string]$LockDir)
    $qcArgs = @('--json')
    if ($All) { $qcArgs += '--all' }
    if ($Scan) { $qcArgs += @('--scan', $Scan) }
    if ($LockDir) { $qcArgs += @('--lock-dir', $LockDir) }
    if ($Name) { $qcArgs += $Name }
    & (Get-QcTool 'qc-ps') @qcArgs | ForEach-Object { $_ | ConvertFrom-Json }
}

# Starts every enabled account's programs (qc-launch), in the foreground until Ctrl+C.
function Start-QcLaunch {
    [CmdletBinding()]
    param([string]$Config = (Get-QcDefaultConfig), [string[]]$Accounts, [switch]$DryRun)
    $qcArgs = @()
    if ($Accounts) { $qcArgs += @('--accounts') + $Accounts + @('--') }
    if ($DryRun) { $qcArgs += '--dry-run' }
    & (Get-QcTool 'qc-launch') @qcArgs $Config
}

# Stops everything (or the named programs): supervisors first, one deadline for all.
function Stop-QcAll {
    [CmdletBinding(SupportsShouldProcess)]
    param([string[]]$Name, [double]$Timeout = 10, [string]$Match, [string]$Config = (Get-QcDefaultConfig))
    $qcArgs = @('--timeout', $Timeout)
    if ($Match) { $qcArgs += @('--match', $Match) }
    # Copies of the config's programs started by hand are stopped too.
    if ($Config -and (Test-Path $Config)) { $qcArgs += @('--config', $Config) }
    if ($PSCmdlet.ShouldProcess('qc-managed processes', 'stop')) { $qcArgs += '--yes' } else { $qcArgs += '--dry-run' }
    if ($Name) { $qcArgs += $Name }
    & (Get-QcTool 'qc-shutdown') @qcArgs
}

# One Protocol v1.0 probe per line as objects (endpoint, action, req_id, status, rtt_ms,
# data, error, result); $LASTEXITCODE is 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
function Test-QcHeartbeat {
    [CmdletBinding()]
    param([string]$Endpoint, [double]$Timeout = 5, [int]$Retries = 0, [int]$Count = 1, [double]$WarnMs)
    $qcArgs = @('--json', '-t', $Timeout, '-r', $Retries, '-c', $Count)
    if ($WarnMs) { $qcArgs += @('-w', $WarnMs) }
    if ($Endpoint) { $qcArgs += $Endpoint }
    & (Get-QcTool 'qc-heartbeat') @qcArgs | ForEach-Object { $_ | ConvertFrom-Json }
}

Export-ModuleMember -Function Get-QcProcess, Start-QcLaunch, Stop-QcAll, Test-QcHeartbeat
