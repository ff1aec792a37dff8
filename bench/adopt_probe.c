/* The program bench/adopt.sh adopts, 1,000 times. Statically linked so that main() is as
 * close as possible to the exec (no dynamic loader running first).
 *
 *   adopt_probe TARGET HIERARCHIES        report on fd 3
 *
 * Its FIRST act is to read /proc/self/cgroup and note whether it already runs inside TARGET
 * (e.g. "/cgwarden-bench-123/target") in at least HIERARCHIES v1 hierarchies (lines other
 * than the cgroup2 "0::" one; HIERARCHIES 0, on v2: in the "0::" line). Then:
 *   - it forks child B at once; B waits until the parent sees itself inside, 20 ms more, and
 *     reports whether it is inside (a child forked before its parent was moved: the
 *     cgrulesengd race);
 *   - it polls its own cgroup until inside (at most 2 s): t1 - t0 is the probe-side
 *     "first instruction -> adopted" latency;
 *   - it forks child A, whose first act is the same check (a child of an adopted parent).
 * One line on fd 3:  <pid> <inside_at_first_instruction> <t1-t0 ns or -1> <B inside> <A inside>
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char* target;
static int want;

static long long nowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int inside(void) {
  char buf[4096];
  int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  size_t tl = strlen(target);
  int hits = 0;
  for (char* line = buf; line && *line;) {
    char* nl = strchr(line, '\n');
    if (nl) *nl = 0;
    if ((strncmp(line, "0::", 3) != 0) == (want > 0)) {
      char* path = strrchr(line, ':');
      if (path && strlen(path + 1) == tl && memcmp(path + 1, target, tl) == 0) ++hits;
    }
    line = nl ? nl + 1 : NULL;
  }
  return want > 0 ? hits >= want : hits == 1;
}

static int childInside(pid_t c) {
  int st = 0;
  if (waitpid(c, &st, 0) != c || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

int main(int argc, char** argv) {
  long long t0 = nowNs();
  if (argc < 3) return 2;
  target = argv[1];
  want = atoi(argv[2]);
  int first = inside();

  int gate[2];
  if (pipe(gate) != 0) return 3;
  pid_t b = fork();
  if (b == 0) {
    char c;
    close(gate[1]);
    (void)!read(gate[0], &c, 1); /* the parent is inside (or gave up) */
    usleep(20000);
    _exit(inside());
  }
  close(gate[0]);
  long long t1 = -1;
  long long limit = t0 + 2000000000LL;
  int in = first;
  while (!in && nowNs() < limit) {
    struct timespec pause = {0, 20000};
    nanosleep(&pause, NULL);
    in = inside();
  }
  if (in) t1 = nowNs();
  close(gate[1]);
  pid_t a = fork();
  if (a == 0) _exit(inside());
  int aIn = childInside(a);
  int bIn = childInside(b);
  dprintf(3, "%d %d %lld %d %d\n", (int)getpid(), first, t1 < 0 ? -1LL : t1 - t0, bIn, aIn);
  return 0;
}
