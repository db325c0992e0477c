@echo off
rem SAFE_SHUTDOWN.bat: list what runs, ask "Type YES", stop everything gracefully then
rem forcibly (supervisors first, so nothing restarts), clear the locks. It stops processes
rem only; it never touches open trades. Arguments go to qc-shutdown (names, --timeout,
rem --match REGEX). QC_NOPAUSE skips the closing pause. The exit code is qc-shutdown's.
setlocal
if defined QC_BIN (set "QC=%QC_BIN%\") else if exist "%~dp0qc-shutdown.exe" (set "QC=%~dp0") else (set "QC=")
"%QC%qc-shutdown.exe" --ask %*
set "RC=%ERRORLEVEL%"
echo.
echo === What is left ===
"%QC%qc-ps.exe" --all
if not defined QC_NOPAUSE pause
exit /b %RC%
