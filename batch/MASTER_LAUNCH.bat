@echo off
rem MASTER_LAUNCH.bat: show the locks held now, then start every enabled account's programs
rem with qc-launch, which refuses (exit 75, holders listed) when any of them already runs.
rem Arguments go to qc-launch: a MASTER_CONFIG.json path, --accounts KEY..., --dry-run.
rem The tools are found in %QC_BIN%, else beside this file, else on PATH. QC_NOPAUSE skips
rem the closing pause. The exit code is qc-launch's.
setlocal
rem The tools: %QC_BIN%, else beside this file (the Windows zip), else where the README's
rem build puts them (build-win\bin, build\bin), else on PATH.
if defined QC_BIN (set "QC=%QC_BIN%\") else if exist "%~dp0qc-launch.exe" (set "QC=%~dp0") else if exist "%~dp0..\build-win\bin\qc-launch.exe" (set "QC=%~dp0..\build-win\bin\") else if exist "%~dp0..\build\bin\qc-launch.exe" (set "QC=%~dp0..\build\bin\") else (set "QC=")
echo === Locks held now ===
"%QC%qc-ps.exe"
echo.
echo === Starting every enabled account's programs (Ctrl+C stops them in reverse order) ===
"%QC%qc-launch.exe" %*
set "RC=%ERRORLEVEL%"
if not "%RC%"=="0" echo qc-launch ended with exit code %RC%
if not defined QC_NOPAUSE pause
exit /b %RC%
