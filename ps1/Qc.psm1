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

# ---- Tab completion (PowerShell 5.1 and 7), as the bash completion does it ----
# Options come from each tool's own --help, so they are never out of date; where a NAME goes,
# the names in the lock directory (--lock-dir on the line, else $env:QC_LOCK_DIR, else
# .\.locks); -Accounts of Start-QcLaunch completes the config's ACCOUNTS keys.

function Get-QcLockName([string]$LockDir, [string]$Prefix) {
    if (-not $LockDir) { $LockDir = if ($env:QC_LOCK_DIR) { $env:QC_LOCK_DIR } else { '.\.locks' } }
    if (-not (Test-Path -LiteralPath $LockDir -PathType Container)) { return }
    Get-ChildItem -LiteralPath $LockDir -Filter '*.lock' -File -ErrorAction SilentlyContinue |
        ForEach-Object { $_.BaseName } | Where-Object { $_ -like "$Prefix*" } | Sort-Object
}

function New-QcCompletion([string]$Text, [string]$Kind = 'ParameterValue') {
    [System.Management.Automation.CompletionResult]::new($Text, $Text, $Kind, $Text)
}

$QcToolOptions = @{}  # tool -> its options, read once per session from --help

function Get-QcToolOption([string]$Tool) {
    if (-not $QcToolOptions.ContainsKey($Tool)) {
        $help = & (Get-QcTool $Tool) --help 2>$null | Out-String
        $QcToolOptions[$Tool] = @([regex]::Matches($help, '(?<=^|[ ,])--?[A-Za-z][-A-Za-z0-9]*') |
            ForEach-Object { $_.Value } | Sort-Object -Unique)
    }
    $QcToolOptions[$Tool]
}

$QcNativeCompleter = {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | Where-Object { $_.Extent.EndOffset -le $cursorPosition } |
        ForEach-Object { $_.Extent.Text })
    if ($wordToComplete) { $words = @($words | Select-Object -SkipLast 1) }
    $tool = [IO.Path]::GetFileNameWithoutExtension($words[0])
    if ($words -contains '--') { return }  # the command's own arguments
    $prev = if ($words.Count -gt 1) { $words[-1] } else { '' }
    $lockDir = $null
    for ($i = 1; $i -lt $words.Count - 1; $i++) { if ($words[$i] -eq '--lock-dir') { $lockDir = $words[$i + 1] } }
    switch ($prev) {
        { $_ -in '--lock-dir', '--log-dir' } {
            return Get-ChildItem -Directory -Path "$wordToComplete*" -ErrorAction SilentlyContinue |
                ForEach-Object { New-QcCompletion $_.FullName 'ProviderContainer' }
        }
        { $_ -in '--config', '--etcd-cacert', '--etcd-cert', '--etcd-key', '--on-event' } {
            return Get-ChildItem -Path "$wordToComplete*" -ErrorAction SilentlyContinue |
                ForEach-Object { New-QcCompletion $_.FullName 'ProviderItem' }
        }
        '--service' { return 'install', 'uninstall', 'start', 'stop' | Where-Object { $_ -like "$wordToComplete*" } |
                ForEach-Object { New-QcCompletion $_ } }
        '--stop-signal' { return 'TERM', 'INT', 'QUIT', 'HUP', 'USR1', 'USR2' | Where-Object { $_ -like "$wordToComplete*" } |
                ForEach-Object { New-QcCompletion $_ } }
        { $_ -in '--start', '--stop' -or ($_ -eq '--restart' -and $tool -eq 'qc-launch') } {
            return Get-QcLockName $lockDir $wordToComplete | ForEach-Object { New-QcCompletion $_ }
        }
    }
    if ($wordToComplete -like '-*') {
        return Get-QcToolOption $tool | Where-Object { $_ -like "$wordToComplete*" } |
            ForEach-Object { New-QcCompletion $_ 'ParameterName' }
    }
    switch ($tool) {
        'qc-launch' { Get-ChildItem -Path "$wordToComplete*" -Include '*.json' -ErrorAction SilentlyContinue |
                ForEach-Object { New-QcCompletion $_.FullName 'ProviderItem' } }
        'qc-heartbeat' { }
        default { Get-QcLockName $lockDir $wordToComplete | ForEach-Object { New-QcCompletion $_ } }
    }
}

$QcTools = 'qc-lock', 'qc-run', 'qc-launch', 'qc-shutdown', 'qc-ps', 'qc-heartbeat'
Register-ArgumentCompleter -Native -CommandName ($QcTools + ($QcTools | ForEach-Object { "$_.exe" })) -ScriptBlock $QcNativeCompleter

Register-ArgumentCompleter -CommandName Get-QcProcess, Stop-QcAll -ParameterName Name -ScriptBlock {
    param($commandName, $parameterName, $wordToComplete, $commandAst, $fakeBoundParameters)
    Get-QcLockName $fakeBoundParameters['LockDir'] $wordToComplete | ForEach-Object { New-QcCompletion $_ }
}

Register-ArgumentCompleter -CommandName Start-QcLaunch -ParameterName Accounts -ScriptBlock {
    param($commandName, $parameterName, $wordToComplete, $commandAst, $fakeBoundParameters)
    $config = if ($fakeBoundParameters['Config']) { $fakeBoundParameters['Config'] } else { Get-QcDefaultConfig }
    if (-not (Test-Path -LiteralPath $config)) { return }
    $accounts = (Get-Content -LiteralPath $config -Raw | ConvertFrom-Json).ACCOUNTS
    if ($accounts) {
        $accounts.PSObject.Properties.Name | Where-Object { $_ -like "$wordToComplete*" } | Sort-Object |
            ForEach-Object { New-QcCompletion $_ }
    }
}

Export-ModuleMember -Function Get-QcProcess, Start-QcLaunch, Stop-QcAll, Test-QcHeartbeat
