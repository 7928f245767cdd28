/* What a container can reach of the host's binaries through /proc (tests/test_sealed_binaries.py).
 *
 *   probe scan  DEV:INO...   look once at every other process this container can see
 *   probe watch DEV:INO...   look at every process as it appears (and again after it execs),
 *                            until /ctl/stop exists
 *
 * DEV:INO are the host files the test forbids (the host's python, libpython, ld.so, libc, ...,
 * as the host stats them). For each visible process, its /proc/<pid>/exe and every
 * /proc/<pid>/map_files entry is stat'ed (following the link, as an exploit would open it) and
 * compared with them; each one that is not on the container's own root is opened for writing
 * (O_WRONLY, never O_TRUNC, never written: CVE-2019-5736 writes there). Output, one per line:
 *   SEEN pid exe-target          every process looked at
 *   HOST pid path dev:ino        a forbidden host file is reachable
 *   WRITABLE pid path target     opened for writing (a sealed memfd, which no write can change,
 *                                is not counted)
 *   DONE n                       the number of processes looked at
 * Built static on the host by the test; it runs from a bind mount.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct { unsigned long dev, ino; } host[256];
static int nhost;
static dev_t root_dev;
static unsigned long seen[1 << 16];   /* the exe's inode when last looked at (+1: 0 = never) */

static int sealed(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    return seals >= 0 && (seals & F_SEAL_WRITE);
}

static void check(int pid, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        return;   /* gone, or refused (a non-dumpable process, map_files without CAP_SYS_ADMIN) */
    for (int i = 0; i < nhost; i++)
        if ((unsigned long)st.st_dev == host[i].dev && (unsigned long)st.st_ino == host[i].ino)
            printf("HOST %d %s %lu:%lu\n", pid, path, (unsigned long)st.st_dev,
                   (unsigned long)st.st_ino);
    if (st.st_dev == root_dev)
        return;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (!sealed(fd)) {
            char target[256] = "";
            readlink(path, target, sizeof target - 1);
            printf("WRITABLE %d %s %s\n", pid, path, target);
        }
        close(fd);
    }
}

static void look(int pid) {
    char path[64], target[256] = "";
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    readlink(path, target, sizeof target - 1);
    printf("SEEN %d %s\n", pid, target[0] ? target : "?");
    check(pid, path);
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/map_files", pid);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char entry[384];
        snprintf(entry, sizeof entry, "%s/%s", dir, de->d_name);
        check(pid, entry);
    }
    if (d)
        closedir(d);
}

/* One pass over /proc: every process (but this one) not looked at yet, or that has exec'd
 * something else since. */
static int pass(void) {
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        int pid = atoi(de->d_name);
        if (pid <= 0 || pid >= (1 << 16) || pid == getpid())
            continue;
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%d/exe", pid);
        unsigned long now = stat(path, &st) == 0 ? (unsigned long)st.st_ino + 1 : 1;
        if (seen[pid] == now)
            continue;
        seen[pid] = now;
        look(pid);
        n++;
    }
    if (d)
        closedir(d);
    fflush(stdout);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 2 || (strcmp(argv[1], "scan") && strcmp(argv[1], "watch"))) {
        fprintf(stderr, "usage: probe scan|watch DEV:INO...\n");
        return 2;
    }
    for (int i = 2; i < argc && nhost < 256; i++)
        if (sscanf(argv[i], "%lu:%lu", &host[nhost].dev, &host[nhost].ino) == 2)
            nhost++;
    struct stat root;
    stat("/", &root);
    root_dev = root.st_dev;
    int total = pass();
    if (strcmp(argv[1], "watch") == 0) {
        for (long spins = 0; spins < 300000 && access("/ctl/stop", F_OK) != 0; spins++) {
            total += pass();
            usleep(200);
        }
    }
    printf("DONE %d\n", total);
    return 0;
}
