/* bench helper: appends CLOCK_MONOTONIC (ns) to FILE the moment it runs, then exits 1 (a
 * crash) or, with "hold", waits forever. Static and tiny, so that its own start-up adds as
 * little as possible to the gaps it measures. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  if (argc < 2) return 2;
  char line[32];
  int n = snprintf(line, sizeof line, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
  }
  if (argc > 2 && strcmp(argv[2], "hold") == 0) {
    for (;;) pause();
  }
  return 1;
}
