@echo off
rem SAFE_SHUTDOWN.bat: list what runs, ask "Type YES", stop everything gracefully then
rem forcibly (supervisors first, so nothing restarts), clear the locks. It stops processes
rem only; it never touches open trades. Arguments go to qc-shutdown (names, --timeout,
rem --match REGEX). QC_NOPAUSE skips the closing pause. The exit code is qc-shutdown's.
setlocal
rem The tools: %QC_BIN%, else beside this file (the Windows zip), else where the README's
rem build puts them (build-win\bin, build\bin), else on PATH.
if defined QC_BIN (set "QC=%QC_BIN%\") else if exist "%~dp0qc-shutdown.exe" (set "QC=%~dp0") else if exist "%~dp0..\build-win\bin\qc-shutdown.exe" (set "QC=%~dp0..\build-win\bin\") else if exist "%~dp0..\build\bin\qc-shutdown.exe" (set "QC=%~dp0..\build\bin\") else (set "QC=")
rem The MASTER_CONFIG.json beside this file, if there is one: copies of its programs started
rem by hand (the original incident) are found and stopped too, without a regex.
set "CFG="
if exist "%~dp0MASTER_CONFIG.json" set "CFG=--config "%~dp0MASTER_CONFIG.json""
"%QC%qc-shutdown.exe" --ask %CFG% %*
set "RC=%ERRORLEVEL%"
echo.
echo === What is left ===
"%QC%qc-ps.exe" --all
if not defined QC_NOPAUSE pause
exit /b %RC%
