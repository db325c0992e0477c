@echo off
rem CHECK_PROCESSES.bat: every lock (stale ones too) and, with QC_SCAN set to a pattern such as
rem BRAIN_^|WATCHDOG, unmanaged copies of matching scripts (duplicates marked). The exit code
rem is qc-ps's: 1 when a duplicate or stale entry is shown. QC_NOPAUSE skips the pause.
setlocal
rem The tools: %QC_BIN%, else beside this file (the Windows zip), else where the README's
rem build puts them (build-win\bin, build\bin), else on PATH.
if defined QC_BIN (set "QC=%QC_BIN%\") else if exist "%~dp0qc-ps.exe" (set "QC=%~dp0") else if exist "%~dp0..\build-win\bin\qc-ps.exe" (set "QC=%~dp0..\build-win\bin\") else if exist "%~dp0..\build\bin\qc-ps.exe" (set "QC=%~dp0..\build\bin\") else (set "QC=")
if defined QC_SCAN (
  "%QC%qc-ps.exe" --all --check --scan "%QC_SCAN%" %*
) else (
  "%QC%qc-ps.exe" --all --check %*
)
set "RC=%ERRORLEVEL%"
if "%RC%"=="1" echo Duplicate or stale entries are listed above.
if not defined QC_NOPAUSE pause
exit /b %RC%
