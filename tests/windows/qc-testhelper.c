/* qc-testhelper.exe: a stand-in program for qc's black-box tests under Wine.
 *   sleep SECONDS          sleep, then exit 0
 *   exit CODE              exit with CODE
 *   stamp FILE [hold]      append "<pid>\n" to FILE; with hold, then wait forever
 *   gate FILE CMD [ARG...] create FILE.<pid>.ready, wait until FILE exists, then run CMD and
 *                          exit with its status
 *   inside DIR             the race's critical section: create DIR\inside (or note a
 *                          VIOLATION), append our PID to DIR\winners, wait for DIR\release,
 *                          remove DIR\inside
 *   alive PID              exit 0 when process PID runs, 1 when it does not
 *   ready FILE             create FILE, then wait forever
 *   on-break FILE          wait; on Ctrl+Break (or Ctrl+C) append "break" to FILE and exit 0
 *   launch FILE [wait]     start "stamp FILE hold" (inheriting our handles, as a launcher
 *                          does), then exit 0; with wait, wait forever instead
 *   flood                  write lines to stdout as fast as it can, forever
 *   hold FILE RECORD       open FILE as a qc lock holder does (the same access and sharing),
 *                          write the contents of the file RECORD into it, wait forever
 *   alert FILE             an alert command: append "QC_EVENT QC_NAME QC_ACCOUNT QC_STATUS" and
 *                          then what stdin holds to FILE
 *   delete FILE            DeleteFile(FILE): exit 0 when it was deleted, else print the error
 *                          and exit 1
 *   env FILE NAME [hold]   append the value of environment variable NAME and a newline to
 *                          FILE ("-" when unset); with hold, then wait forever
 * Waiting for a file polls every 5 ms: this is a fake workload, not product code. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void append(const char* path, const char* text) {
  FILE* f = fopen(path, "a");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static void wait_for_file(const char* path) {
  while (GetFileAttributesA(path) == INVALID_FILE_ATTRIBUTES) Sleep(5);
}

static const char* break_file = NULL;

static BOOL WINAPI on_console(DWORD type) {
  if (type == CTRL_BREAK_EVENT || type == CTRL_C_EVENT) {
    append(break_file, "break\n");
    ExitProcess(0);
  }
  return FALSE;
}

static int run(int argc, char** argv) {
  char line[32768] = "";
  for (int i = 0; i < argc; ++i) {
    if (i) strcat(line, " ");
    strcat(line, "\"");
    strcat(line, argv[i]);
    strcat(line, "\"");
  }
  STARTUPINFOA si = {sizeof si};
  PROCESS_INFORMATION pi;
  if (!CreateProcessA(NULL, line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) return 127;
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(pi.hProcess, &code);
  return (int)code;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* mode = argv[1];
  char buf[MAX_PATH * 2];
  if (!strcmp(mode, "sleep") && argc > 2) {
    Sleep((DWORD)(atof(argv[2]) * 1000));
    return 0;
  }
  if (!strcmp(mode, "exit") && argc > 2) return atoi(argv[2]);
  if (!strcmp(mode, "stamp") && argc > 2) {
    snprintf(buf, sizeof buf, "%lu\n", GetCurrentProcessId());
    append(argv[2], buf);
    if (argc > 3 && !strcmp(argv[3], "hold")) Sleep(INFINITE);
    return 1;
  }
  if (!strcmp(mode, "gate") && argc > 3) {
    snprintf(buf, sizeof buf, "%s.%lu.ready", argv[2], GetCurrentProcessId());
    append(buf, "ready\n");
    wait_for_file(argv[2]);
    return run(argc - 3, argv + 3);
  }
  if (!strcmp(mode, "inside") && argc > 2) {
    snprintf(buf, sizeof buf, "%s\\inside", argv[2]);
    char note[MAX_PATH * 2];
    if (!CreateDirectoryA(buf, NULL)) {
      snprintf(note, sizeof note, "%s\\violations", argv[2]);
      append(note, "VIOLATION\n");
    }
    snprintf(note, sizeof note, "%s\\winners", argv[2]);
    char pid[32];
    snprintf(pid, sizeof pid, "%lu\n", GetCurrentProcessId());
    append(note, pid);
    snprintf(note, sizeof note, "%s\\release", argv[2]);
    wait_for_file(note);
    RemoveDirectoryA(buf);
    return 0;
  }
  if (!strcmp(mode, "alive") && argc > 2) {
    HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)strtoul(argv[2], NULL, 10));
    if (!h) return 1;
    int running = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
    CloseHandle(h);
    return running ? 0 : 1;
  }
  if (!strcmp(mode, "on-break") && argc > 2) {
    break_file = argv[2];
    SetConsoleCtrlHandler(on_console, TRUE);
    Sleep(INFINITE);
  }
  if (!strcmp(mode, "launch") && argc > 2) {
    char self[MAX_PATH];
    GetModuleFileNameA(NULL, self, sizeof self);
    snprintf(buf, sizeof buf, "\"%s\" stamp \"%s\" hold", self, argv[2]);
    STARTUPINFOA si = {sizeof si};
    PROCESS_INFORMATION pi;
    if (!CreateProcessA(NULL, buf, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) return 127;
    if (argc > 3 && !strcmp(argv[3], "wait")) Sleep(INFINITE);
    return 0;
  }
  if (!strcmp(mode, "flood")) {
    static char line[4096];
    memset(line, 'y', sizeof line - 1);
    line[sizeof line - 2] = '\n';
    for (;;) fputs(line, stdout);
  }
  if (!strcmp(mode, "hold") && argc > 3) {
    FILE* in = fopen(argv[3], "rb");
    if (!in) return 1;
    static char text[65536];
    size_t n = fread(text, 1, sizeof text, in);
    fclose(in);
    HANDLE h = CreateFileA(argv[2], FILE_GENERIC_READ | FILE_GENERIC_WRITE | WRITE_DAC,
                           FILE_SHARE_READ | FILE_SHARE_DELETE, NULL, OPEN_ALWAYS, 0, NULL);
    if (h == INVALID_HANDLE_VALUE) return 1;
    DWORD written = 0;
    WriteFile(h, text, (DWORD)n, &written, NULL);
    snprintf(buf, sizeof buf, "%s.held", argv[3]);
    append(buf, "held\n");
    Sleep(INFINITE);
  }
  if (!strcmp(mode, "alert") && argc > 2) {
    static char in[65536];
    size_t n = fread(in, 1, sizeof in - 1, stdin);
    in[n] = 0;
    const char* keys[] = {"QC_EVENT", "QC_NAME", "QC_ACCOUNT", "QC_STATUS"};
    char line[1024] = "";
    for (int i = 0; i < 4; ++i) {
      const char* v = getenv(keys[i]);
      strcat(line, v && *v ? v : "-");
      strcat(line, " ");
    }
    append(argv[2], line);
    append(argv[2], in);
    return 0;
  }
  if (!strcmp(mode, "env") && argc > 3) {
    const char* value = getenv(argv[3]);
    char line[512];
    snprintf(line, sizeof line, "%s\n", value ? value : "-");
    append(argv[2], line);
    if (argc > 4 && !strcmp(argv[4], "hold")) Sleep(INFINITE);
    return 0;
  }
  if (!strcmp(mode, "delete") && argc > 2) {
    if (DeleteFileA(argv[2])) return 0;
    printf("error %lu\n", GetLastError());
    return 1;
  }
  if (!strcmp(mode, "ready") && argc > 2) {
    append(argv[2], "ready\n");
    Sleep(INFINITE);
  }
  return 2;
}
