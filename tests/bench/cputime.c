/* cputime.c -- run a command and write what it cost, to the microsecond.
 *
 *   cputime -o FILE CMD [ARG...]
 *
 * Runs CMD (stdin, stdout and stderr inherited), waits for it with wait4(2)
 * and writes one line to FILE: "wall user sys maxrss" -- seconds with six
 * decimals, peak resident set in KiB (getrusage(2) ru_maxrss of the command
 * and everything it waited for). GNU time prints CPU seconds with two
 * decimals: on a 0.3 s run that is a 3 % step, as large as the differences
 * the benchmark is read for. Exit status: the command's (128 + signal when
 * killed), 127 when it cannot be run, 2 on usage errors. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "-o") != 0) {
        fputs("usage: cputime -o FILE CMD [ARG...]\n", stderr);
        return 2;
    }
    const char *out = argv[2];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cputime: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        execvp(argv[3], argv + 3);
        fprintf(stderr, "cputime: %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "cputime: wait4: %s\n", strerror(errno));
            return 127;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "cputime: %s: %s\n", out, strerror(errno));
        return 127;
    }
    fprintf(f, "%.6f %.6f %.6f %ld\n", wall, tv_s(ru.ru_utime), tv_s(ru.ru_stime), ru.ru_maxrss);
    fclose(f);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 127;
}
