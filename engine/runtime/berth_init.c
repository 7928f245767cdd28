/* berth-init: the only program of berth's that runs where a container can see it.
 *
 *   berth-init init [-t] PATH ARG0 [ARG...]
 *       --init: the container's pid 1. Forks the command, forwards the signals it gets to it,
 *       reaps every orphan of the pid namespace and exits with the command's status.
 *   berth-init exec [-t] [-d] PATH ARG0 [ARG...]
 *       exec's joiner. Started by berth's intermediate process, which has already joined the
 *       container's namespaces and cgroup and taken the container's user, capabilities,
 *       seccomp filter, rlimits, working directory and stdio. Forks the command into the
 *       container's pid namespace in a session of its own (with -t the terminal on its stdin
 *       becomes its controlling terminal), forwards signals, exits with its status; with -d
 *       it leaves at once.
 *   berth-init health [-c N] PATH ARG0 [ARG...]
 *       A container's healthcheck server (engine/runtime/health.py), started as exec's joiner
 *       is, once per start of the container, but left outside the container's cgroup: fds
 *       5 .. 5+N-1 are that cgroup's files, which each check joins by writing "0" to them. For
 *       each request its monitor writes on stdin, "c DELAY_MS\n", it waits DELAY_MS, forks
 *       the command in a session of its own, stdin from its own stderr (/dev/null), stdout
 *       and stderr into a pipe, waits for the command's exit and answers on stdout with one
 *       report: "CODE LENGTH CUT START END\n" (times in ns since the epoch) and LENGTH bytes
 *       of output (at most 4096; CUT 1 when more was dropped). CODE -1: the command could not
 *       be started, and the output says why. Exits when its stdin closes.
 *
 * Everything else is done in Python before this program starts; what is left here is what
 * has to happen in a process the container can see. That process must map nothing of the
 * host's: this program is static, and berth runs it from a sealed in-memory copy
 * (engine/runtime/sealed.py), never from a host path, as runc runs itself (CVE-2019-5736).
 *
 * The environment is the command's. fd 3, when open, is berth's error pipe: a failed execve of
 * the command writes Docker's message there as one JSON object {"code", "error"} and exits 126
 * (127 when the file does not exist); a successful one closes it.
 *
 * It runs under the container's seccomp filter, as Docker's init does: a profile must allow
 * execveat, fork (clone), wait4 and the signal calls (Docker's default profile does).
 *
 * Built by `make` with gcc -static (Makefile).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define ERR_FD 3
#define CGROUP_FD 5
#define MAX_OUTPUT 4096   /* Docker's maxOutputLen */

/* One byte of a JSON string; returns how many bytes of s it consumed. Bytes that are not
 * UTF-8 become U+FFFD, so the reader's strict decoder always accepts the message. */
static size_t json_char(FILE *out, const unsigned char *s) {
    unsigned char c = s[0];
    if (c == '"' || c == '\\') { fprintf(out, "\\%c", c); return 1; }
    if (c < 0x20) { fprintf(out, "\\u%04x", c); return 1; }
    if (c < 0x80) { fputc(c, out); return 1; }
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    int ok = n > 0;
    for (size_t i = 1; ok && i < n; i++)
        ok = (s[i] & 0xC0) == 0x80;
    /* overlong forms, surrogates and code points past U+10FFFF */
    if (ok && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) ||
               (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)))
        ok = 0;
    if (!ok) { fputs("\\ufffd", out); return 1; }
    fwrite(s, 1, n, out);
    return n;
}

/* Tell berth why the command could not run (when it listens) and exit with Docker's code:
 * "WHAT: reason", or with NAME, Docker's exec message: "exec: \"NAME\": reason". */
static void fail(int code, const char *what, const char *name, int err) {
    char reason[256];
    snprintf(reason, sizeof reason, "%s", strerror(err));
    for (char *p = reason; *p; p++)
        *p = tolower((unsigned char)*p);
    FILE *out = fcntl(ERR_FD, F_GETFD) >= 0 ? fdopen(ERR_FD, "w") : NULL;
    if (!out) {
        fprintf(stderr, "berth-init: %s%s%s%s: %s\n", what, name ? ": \"" : "", name ? name : "",
                name ? "\"" : "", reason);
        _exit(code);
    }
    fprintf(out, "{\"code\":%d,\"error\":\"%s", code, what);
    if (name) {
        fputs(": \\\"", out);
        for (const unsigned char *s = (const unsigned char *)name; *s;)
            s += json_char(out, s);
        fputs("\\\"", out);
    }
    fputs(": ", out);
    for (const unsigned char *s = (const unsigned char *)reason; *s;)
        s += json_char(out, s);
    fputs("\"}", out);
    fclose(out);
    _exit(code);
}

/* The signals this program waits for (and forwards): all but those that report a fault of
 * its own and the terminal stops, which it ignores (as tini). */
static void wait_set(sigset_t *set) {
    static const int own[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS,
                              SIGTTIN, SIGTTOU};
    sigfillset(set);
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        sigdelset(set, own[i]);
}

/* In the child, just before execve: a fresh process's signal state. */
static void reset_signals(void) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);   /* fails harmlessly for the numbers libc reserves */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void usage(void) {
    fputs("usage: berth-init init|exec [-t] [-d] PATH ARG0 [ARG...]\n"
          "       berth-init health [-c N] PATH ARG0 [ARG...]\n", stderr);
    _exit(125);
}

/* --- health --------------------------------------------------------------------------------- */

static void write_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0);   /* the monitor is gone */
        data += n;
        len -= (size_t)n;
    }
}

static long long now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void report(int code, const char *data, size_t len, int cut, long long start) {
    char head[128];
    int n = snprintf(head, sizeof head, "%d %zu %d %lld %lld\n", code, len, cut, start,
                     now_ns(CLOCK_REALTIME));
    write_all(1, head, (size_t)n);
    write_all(1, data, len);
}

/* In a check's child: why it could not start, to the parent's error pipe, and exit. */
static void check_fail(int fd, const char *what, const char *name, int err) {
    char reason[256], msg[512];
    snprintf(reason, sizeof reason, "%s", strerror(err));
    for (char *p = reason; *p; p++)
        *p = tolower((unsigned char)*p);
    int n = snprintf(msg, sizeof msg, "%s%s%s%s: %s", what, name ? ": \"" : "", name ? name : "",
                     name ? "\"" : "", reason);
    if (n > (int)sizeof msg - 1)
        n = (int)sizeof msg - 1;
    if (write(fd, msg, (size_t)n) < 0) { /* nothing more can be said */ }
    _exit(err == ENOENT ? 127 : 126);
}

/* Take what the check printed: at most MAX_OUTPUT bytes kept, the rest read and dropped. */
static int take(int fd, char *buf, size_t *len, int *cut) {
    char spill[4096];
    for (;;) {
        size_t room = MAX_OUTPUT - *len;
        ssize_t n = room ? read(fd, buf + *len, room) : read(fd, spill, sizeof spill);
        if (n > 0) {
            if (room)
                *len += (size_t)n;
            else
                *cut = 1;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n == 0;   /* 1: end of file; 0: nothing more for now */
    }
}

static void on_child(int sig) { (void)sig; }

static void run_check(int cgroups, const char *path, char **cmd, const sigset_t *waiting) {
    long long start = now_ns(CLOCK_REALTIME);
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        const char *why = strerror(errno);
        report(-1, why, strlen(why), 0, start);
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < cgroups; i++)
            if (write(CGROUP_FD + i, "0", 1) != 1)
                check_fail(err[1], "join the container's cgroup", NULL, errno);
        if (setsid() < 0)
            check_fail(err[1], "setsid", NULL, errno);
        if (dup2(2, 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
            check_fail(err[1], "dup2", NULL, errno);
        for (int i = 0; i < cgroups; i++)
            close(CGROUP_FD + i);
        reset_signals();
        execve(path, cmd, environ);
        check_fail(err[1], "exec", cmd[0], errno);
    }
    close(out[1]);
    close(err[1]);
    if (child < 0) {
        const char *why = strerror(errno);
        report(-1, why, strlen(why), 0, start);
        close(out[0]);
        close(err[0]);
        return;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    static char buf[MAX_OUTPUT];
    size_t len = 0;
    int cut = 0, status = 0, open_out = 1;
    for (;;) {
        if (open_out && take(out[0], buf, &len, &cut))
            open_out = 0;
        if (waitpid(child, &status, WNOHANG) == child)
            break;
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        /* SIGCHLD is blocked but here: it ends the wait when the command exits */
        ppoll(open_out ? &p : NULL, open_out ? 1 : 0, NULL, waiting);
    }
    if (open_out)
        take(out[0], buf, &len, &cut);   /* what it wrote before it exited */
    char why[512];
    ssize_t n = read(err[0], why, sizeof why);
    if (n > 0)
        report(-1, why, (size_t)n, 0, start);
    else
        report(exit_code(status), buf, len, cut, start);
    close(out[0]);
    close(err[0]);
}

/* Wait ``ms`` milliseconds before the next check; 0 when the monitor hung up meanwhile. */
static int pause_for(long ms, const sigset_t *waiting) {
    long long deadline = now_ns(CLOCK_MONOTONIC) + ms * 1000000LL;
    for (;;) {
        long long left = deadline - now_ns(CLOCK_MONOTONIC);
        if (left <= 0)
            return 1;
        struct timespec ts = {.tv_sec = left / 1000000000LL, .tv_nsec = left % 1000000000LL};
        struct pollfd p = {.fd = 0, .events = POLLIN};
        if (ppoll(&p, 1, &ts, waiting) > 0)
            return 0;   /* nothing comes during a wait but the end of our stdin */
    }
}

static int health(int cgroups, const char *path, char **cmd) {
    prctl(PR_SET_DUMPABLE, 0);
    prctl(PR_SET_NAME, "berth-health");
    close(ERR_FD);   /* serving: the intermediate's error pipe has nothing more to say */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child;
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t chld, waiting;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &waiting);
    sigdelset(&waiting, SIGCHLD);
    for (;;) {
        /* one request at a time, "c DELAY_MS\n", written whole: the next comes after our
         * report, so one read takes it */
        char req[64];
        ssize_t n = read(0, req, sizeof req - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0);   /* the monitor closed our stdin: the container stopped */
        req[n] = 0;
        long ms = strtol(req + 1, NULL, 10);
        if (ms > 0 && !pause_for(ms, &waiting))
            _exit(0);
        run_check(cgroups, path, cmd, &waiting);
    }
}

int main(int argc, char **argv) {
    if (argc < 2)
        usage();
    int init = strcmp(argv[1], "init") == 0, serve = strcmp(argv[1], "health") == 0;
    if (!init && !serve && strcmp(argv[1], "exec") != 0)
        usage();
    int tty = 0, detach = 0, cgroups = 0, i = 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-t") == 0 && !serve) tty = 1;
        else if (strcmp(argv[i], "-d") == 0 && !init && !serve) detach = 1;
        else if (strcmp(argv[i], "-c") == 0 && serve && i + 1 < argc) cgroups = atoi(argv[++i]);
        else usage();
    }
    if (argc - i < 2)
        usage();
    const char *path = argv[i];
    char **cmd = argv + i + 1;
    if (serve)
        return health(cgroups, path, cmd);

    /* Out of reach of the container's processes without CAP_SYS_PTRACE (exec resets it). */
    prctl(PR_SET_DUMPABLE, 0);
    prctl(PR_SET_NAME, init ? "berth-init" : "berth-exec");

    sigset_t waited, old;
    wait_set(&waited);
    sigprocmask(SIG_SETMASK, &waited, &old);
    signal(SIGTTIN, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);

    pid_t child = fork();
    if (child < 0)
        fail(126, "fork", NULL, errno);
    if (child == 0) {
        if (init) {
            /* its own process group, in the foreground of the terminal: ctrl-c reaches the
             * command, not pid 1 as well (as tini) */
            setpgid(0, 0);
            if (tty && tcsetpgrp(0, getpgrp()) < 0 && errno != ENOTTY && errno != ENXIO)
                fail(126, "make the command the terminal's foreground", NULL, errno);
        } else {
            if (setsid() < 0)
                fail(126, "setsid", NULL, errno);
            if (tty && ioctl(0, TIOCSCTTY, 0) < 0)
                fail(126, "set the controlling terminal", NULL, errno);
        }
        reset_signals();
        fcntl(ERR_FD, F_SETFD, FD_CLOEXEC);
        execve(path, cmd, environ);
        fail(errno == ENOENT ? 127 : 126, "exec", cmd[0], errno);
    }
    close(ERR_FD);
    if (detach)
        _exit(0);
    for (;;) {
        int sig = sigwaitinfo(&waited, NULL);
        if (sig < 0)
            continue;   /* EINTR: a stop and continue */
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            if (pid == child)
                _exit(exit_code(status));
        }
    }
}
