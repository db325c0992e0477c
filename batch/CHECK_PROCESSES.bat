@echo off
rem CHECK_PROCESSES.bat: every lock (stale ones too) and, with QC_SCAN set to a pattern such as
rem BRAIN_^|WATCHDOG, unmanaged copies of matching scripts (duplicates marked). The exit code
rem is qc-ps's: 1 when a duplicate or stale entry is shown. QC_NOPAUSE skips the pause.
setlocal
if defined QC_BIN (set "QC=%QC_BIN%\") else if exist "%~dp0qc-ps.exe" (set "QC=%~dp0") else (set "QC=")
if defined QC_SCAN (
  "%QC%qc-ps.exe" --all --check --scan "%QC_SCAN%" %*
) else (
  "%QC%qc-ps.exe" --all --check %*
)
set "RC=%ERRORLEVEL%"
if "%RC%"=="1" echo Duplicate or stale entries are listed above.
if not defined QC_NOPAUSE pause
exit /b %RC%
