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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define ERR_FD 3

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
    fputs("usage: berth-init init|exec [-t] [-d] PATH ARG0 [ARG...]\n", stderr);
    _exit(125);
}

int main(int argc, char **argv) {
    if (argc < 2)
        usage();
    int init = strcmp(argv[1], "init") == 0;
    if (!init && strcmp(argv[1], "exec") != 0)
        usage();
    int tty = 0, detach = 0, i = 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-t") == 0) tty = 1;
        else if (strcmp(argv[i], "-d") == 0 && !init) detach = 1;
        else usage();
    }
    if (argc - i < 2)
        usage();
    const char *path = argv[i];
    char **cmd = argv + i + 1;

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
