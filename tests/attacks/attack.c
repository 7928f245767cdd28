/* berth's attack suite: run inside a container, try each way out, print one line per attempt:
 *
 *     <attempt> TAB <outcome> TAB <detail>
 *
 * outcome is "blocked" (the kernel refused at a permission check, or the target is not
 * reachable), "OPEN" (the permission check passed: expected only with --privileged or the matching
 * --cap-add), "ESCAPE" (something of the host was reached: never acceptable) or "n/a" (this
 * kernel lacks the feature; the detail says why).
 *
 * Every attempt is harmless to the host even when it is let through: bad magic for reboot, a
 * non-swap file for swapon, a garbage module image, opening (never writing) /proc/sys and /sys
 * files, reading 512 bytes of a disk. The host side of the runner passes:
 *   ATTACK_HOST_PID    a process running on the host (outside every container)
 *   ATTACK_MARKER      a path that exists only on the host
 *   ATTACK_DISK        major:minor of the host's root disk
 *   ATTACK_HOST_NS     "pid:<inode>,uts:<inode>,mnt:<inode>,ipc:<inode>" of the host: the
 *                      program refuses to run unless all of its own namespaces differ
 * Usage: attack [name ...]   (no names: every attempt but raw_socket*, exec_watch)
 * Built static on the host: gcc -static -O2 -o attack attack.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

static void report(const char *name, const char *outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(const char *name, const char *outcome, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("%s\t%s\t%s\n", name, outcome, buf);
    fflush(stdout);
}

/* The usual reading of an errno from a syscall that is refused at a permission check. */
static int refused(int e) { return e == EPERM || e == EACCES || e == EROFS; }

static void errno_outcome(const char *name, long r, int e, const char *open_detail) {
    if (r >= 0)
        report(name, "OPEN", "%s", open_detail);
    else if (refused(e))
        report(name, "blocked", "%s", strerror(e));
    else if (e == ENOSYS)
        report(name, "n/a", "kernel lacks it (ENOSYS)");
    else
        report(name, "OPEN", "got past the permission check: %s", strerror(e));
}

static void a_reboot(void) {
    /* Bad magic: the kernel checks CAP_SYS_BOOT first, then refuses the magic with EINVAL. */
    long r = syscall(SYS_reboot, 0x12345678, 0, 0, NULL);
    errno_outcome("reboot", r, errno, "reboot accepted?!");
}

/* keyctl (refused by the filter alone: it needs no capability) through the other ABIs an x86_64
 * kernel accepts: the filter must cover the x86 and x32 sub-architectures, or a 32-bit syscall
 * would walk around it. */
static void a_keyctl_i386(void) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(288L), "b"(0L), "c"(-3L), "d"(0L) : "memory");
    if (r == -ENOSYS) { report("keyctl via i386 int 0x80", "n/a", "kernel lacks it (no IA32 emulation)"); return; }
    errno_outcome("keyctl via i386 int 0x80", r < 0 ? -1 : r, r < 0 ? (int)-r : 0,
                  "reached the kernel keyring through the 32-bit ABI");
}

static void a_keyctl_x32(void) {
    long r = syscall(0x40000000L | SYS_keyctl, 0, -3, 0);
    errno_outcome("keyctl via x32 ABI", r, errno, "reached the kernel keyring through the x32 ABI");
}

static void a_mount(void) {
    mkdir("/mnt", 0755);
    long r = mount("x", "/mnt", "tmpfs", 0, "");
    int e = errno;
    if (r == 0) umount2("/mnt", MNT_DETACH);
    errno_outcome("mount tmpfs", r, e, "mounted a tmpfs (in the container's mount namespace)");
}

static void a_umount(void) {
    long r = umount2("/proc/timer_list", MNT_DETACH);
    errno_outcome("umount (unmask /proc/timer_list)", r, errno, "unmounted the mask");
}

static void a_swapon(void) {
    long r = swapon("/etc/hostname", 0);     /* not a swap file: EINVAL once permitted */
    errno_outcome("swapon", r, errno, "swapon accepted?!");
}

static void a_module(void) {
    static char image[256];                  /* zeros: not an ELF module */
    long r = syscall(SYS_init_module, image, sizeof image, "");
    errno_outcome("load kernel module", r, errno, "module loaded?!");
}

static void a_ptrace_host(void) {
    const char *p = getenv("ATTACK_HOST_PID");
    if (!p) { report("ptrace host process", "n/a", "no ATTACK_HOST_PID given"); return; }
    pid_t pid = atoi(p);
    long r = ptrace(PTRACE_ATTACH, pid, 0, 0);
    int e = errno;
    if (r == 0) {
        ptrace(PTRACE_DETACH, pid, 0, 0);
        report("ptrace host process", "ESCAPE", "attached to pid %d", pid);
    } else if (e == ESRCH) {
        report("ptrace host process", "blocked", "host pid %d not visible (ESRCH)", pid);
    } else {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d", pid);
        report("ptrace host process", access(path, F_OK) == 0 ? "ESCAPE" : "blocked",
               "%s (pid %d %s)", strerror(e), pid, access(path, F_OK) == 0 ? "visible" : "not visible");
    }
}

static void open_for_write(const char *name, const char *const *candidates, const char *what) {
    for (int i = 0; candidates[i]; i++) {
        if (access(candidates[i], F_OK) != 0) continue;
        int fd = open(candidates[i], O_WRONLY);  /* opened, never written */
        int e = errno;
        if (fd >= 0) {
            close(fd);
            report(name, "OPEN", "%s opened for writing (%s)", candidates[i], what);
        } else {
            report(name, refused(e) ? "blocked" : "OPEN", "%s: %s", candidates[i], strerror(e));
        }
        return;
    }
    report(name, "n/a", "none of the candidate files exists");
}

static void a_proc_sys(void) {
    static const char *const c[] = {"/proc/sys/kernel/panic", "/proc/sys/vm/overcommit_ratio", NULL};
    open_for_write("write /proc/sys", c, "host-global sysctl");
}

static void a_sys(void) {
    static const char *const c[] = {"/sys/kernel/mm/ksm/run", "/sys/kernel/profiling",
                                    "/sys/power/state", "/sys/kernel/rcu_expedited", NULL};
    open_for_write("write /sys", c, "host kernel setting");
}

static void read_masked(const char *name, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT) report(name, "n/a", "%s does not exist on this kernel", path);
        else report(name, refused(errno) ? "blocked" : "OPEN", "%s: %s", path, strerror(errno));
        return;
    }
    char buf[4096];
    long n = read(fd, buf, sizeof buf);
    int e = errno;
    close(fd);
    if (n > 0) report(name, "OPEN", "read %ld bytes of %s", n, path);
    else if (n == 0) report(name, "blocked", "%s is masked (empty)", path);
    else report(name, refused(e) ? "blocked" : "OPEN", "%s: %s", path, strerror(e));
}

static void a_kcore(void) { read_masked("read /proc/kcore", "/proc/kcore"); }
static void a_timer_list(void) { read_masked("read /proc/timer_list", "/proc/timer_list"); }
static void a_interrupts(void) { read_masked("read /proc/interrupts", "/proc/interrupts"); }

static void a_firmware(void) {
    DIR *d = opendir("/sys/firmware");
    if (!d) { report("list /sys/firmware", "n/a", "%s", strerror(errno)); return; }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) if (de->d_name[0] != '.') n++;
    closedir(d);
    if (n) report("list /sys/firmware", "OPEN", "%d host firmware entries", n);
    else report("list /sys/firmware", "blocked", "masked (empty)");
}

static void a_mknod_disk(void) {
    const char *d = getenv("ATTACK_DISK");
    unsigned maj = 8, min = 0;
    if (d) sscanf(d, "%u:%u", &maj, &min);
    unlink("/tmp/attack-disk");
    mkdir("/tmp", 01777);
    long r = mknod("/tmp/attack-disk", S_IFBLK | 0600, makedev(maj, min));
    int e = errno;
    if (r != 0) {
        errno_outcome("mknod + read host disk", r, e, "");
        return;
    }
    int fd = open("/tmp/attack-disk", O_RDONLY);
    e = errno;
    unlink("/tmp/attack-disk");
    if (fd < 0) {
        report("mknod + read host disk", refused(e) ? "blocked" : "OPEN",
               "mknod %u:%u allowed (as Docker), open refused: %s", maj, min, strerror(e));
        return;
    }
    char buf[512];
    long n = read(fd, buf, sizeof buf);
    close(fd);
    report("mknod + read host disk", "OPEN", "read %ld bytes of host disk %u:%u", n, maj, min);
}

static void a_sethostname(void) {
    long r = sethostname("attack-host", 11);
    errno_outcome("sethostname", r, errno, "changed the hostname (host's checked from outside)");
}

static void a_unshare_user(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
    int st;
    waitpid(pid, &st, 0);
    int e = WEXITSTATUS(st);
    errno_outcome("unshare user namespace", e ? -1 : 0, e, "new user namespace (full caps inside it)");
}

static void a_unshare_mnt(void) {
    pid_t pid = fork();
    if (pid == 0) _exit(unshare(CLONE_NEWNS | CLONE_NEWCGROUP) == 0 ? 0 : errno);
    int st;
    waitpid(pid, &st, 0);
    int e = WEXITSTATUS(st);
    errno_outcome("unshare mount+cgroup namespaces", e ? -1 : 0, e, "new namespaces");
}

static void a_setns_host(void) {
    const char *p = getenv("ATTACK_HOST_PID");
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/mnt", p ? p : "1");
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        report("setns into host mount ns", refused(errno) || errno == ENOENT ? "blocked" : "OPEN",
               "%s: %s", path, strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid == 0) _exit(setns(fd, CLONE_NEWNS) == 0 ? 0 : errno);
    int st;
    waitpid(pid, &st, 0);
    close(fd);
    report("setns into host mount ns", WEXITSTATUS(st) ? "blocked" : "ESCAPE", "%s: %s", path,
           WEXITSTATUS(st) ? strerror(WEXITSTATUS(st)) : "joined");
}

static void a_setns_own(void) {
    int fd = open("/proc/1/ns/uts", O_RDONLY);
    if (fd < 0) { report("setns (own namespaces)", "n/a", "%s", strerror(errno)); return; }
    pid_t pid = fork();
    if (pid == 0) _exit(setns(fd, CLONE_NEWUTS) == 0 ? 0 : errno);
    int st;
    waitpid(pid, &st, 0);
    close(fd);
    int e = WEXITSTATUS(st);
    errno_outcome("setns (own namespaces)", e ? -1 : 0, e, "joined the container's own uts ns");
}

static void a_keyctl(void) {
    long r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    errno_outcome("keyctl", r, errno, "reached the kernel keyring (not namespaced)");
}

static void a_bpf(void) {
    char attr[128] = {0};                    /* a zeroed BPF_MAP_CREATE: EINVAL once permitted */
    long r = syscall(SYS_bpf, 0, attr, sizeof attr);
    errno_outcome("bpf", r, errno, "bpf map created?!");
}

static void a_raw_socket(const char *name) {
    int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    int e = errno;
    if (s >= 0) close(s);
    errno_outcome(name, s, e, "raw ICMP socket opened");
}

static void a_vsock(void) {
    int s = socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
    int e = errno;
    if (s >= 0) close(s);
    if (s < 0 && (e == EAFNOSUPPORT || e == EINVAL))
        report("AF_VSOCK socket", "OPEN", "got past the filter: %s", strerror(e));
    else
        errno_outcome("AF_VSOCK socket", s, e, "vsock socket opened (talks to the hypervisor)");
}

static void a_chroot_breakout(void) {
    const char *marker = getenv("ATTACK_MARKER");
    pid_t pid = fork();
    if (pid == 0) {
        /* rubber-docker's lesson: a chroot is left by chroot'ing deeper and walking "..";
         * pivot_root plus an unmounted old root leave nothing above the container's root. */
        mkdir("/tmp", 01777);
        mkdir("/tmp/jail", 0755);
        if (chroot("/tmp/jail") != 0) _exit(100 + errno);
        for (int i = 0; i < 256; i++) if (chdir("..") != 0) break;
        if (chroot(".") != 0) _exit(100 + errno);
        if (marker && access(marker, F_OK) == 0) _exit(1);
        if (access("/proc/1/root/etc/hostname", F_OK) != 0) _exit(2);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    int code = WEXITSTATUS(st);
    if (code == 1)
        report("chroot breakout", "ESCAPE", "reached the host's %s", marker);
    else if (code >= 100)
        report("chroot breakout", "blocked", "chroot refused: %s", strerror(code - 100));
    else
        report("chroot breakout", "blocked", "walked out of the chroot into the container's root only%s",
               marker ? "; host marker not reachable" : "");
}

/* How many of the host libraries process ``pid`` maps can be opened for writing through
 * /proc/<pid>/map_files (shared libraries are not protected by ETXTBSY). */
static int writable_host_maps(int pid, dev_t root_dev, char *detail, size_t detail_size) {
    char mf[64];
    snprintf(mf, sizeof mf, "/proc/%d/map_files", pid);
    DIR *m = opendir(mf);
    struct dirent *me;
    int n = 0;
    while (m && (me = readdir(m))) {
        if (me->d_name[0] == '.') continue;
        char mp[384];
        snprintf(mp, sizeof mp, "%s/%s", mf, me->d_name);
        struct stat ms;
        if (stat(mp, &ms) != 0 || ms.st_dev == root_dev) continue;
        int wfd = open(mp, O_WRONLY);        /* opened, never written */
        if (wfd >= 0) {
            n++;
            close(wfd);
            char target[160] = "";
            readlink(mp, target, sizeof target - 1);
            snprintf(detail, detail_size, "host library %s writable via %s", target, mp);
        }
    }
    if (m) closedir(m);
    return n;
}

/* Whether the file at ``path`` is a sealed in-memory copy (memfd with F_SEAL_WRITE), as berth
 * runs its static berth-init from: no host file, and nothing can ever write it. */
static int sealed_fd(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    return seals >= 0 && (seals & F_SEAL_WRITE);
}

/* What /proc/<pid>/exe is, looked at once: a process may exec between two looks (from the
 * sealed berth-init to its command), so the device and the seals must come from one open. 0
 * when it is gone or can't be opened. */
static int exe_stat(const char *path, struct stat *st, int *sealed) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    int ok = fstat(fd, st) == 0;
    *sealed = ok && sealed_fd(fd);
    close(fd);
    return ok;
}

static void a_exe_write(void) {
    /* CVE-2019-5736: a container process reopening a runtime's binary for writing through
     * /proc/<pid>/exe. Every visible exe must be the container's own and none writable. */
    struct stat root;
    stat("/", &root);
    DIR *d = opendir("/proc");
    int seen = 0, foreign = 0, writable = 0, sealed = 0;
    char detail[256] = "";
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%s/exe", de->d_name);
        struct stat st;
        int is_sealed;
        if (!exe_stat(path, &st, &is_sealed)) continue;
        seen++;
        if (st.st_dev != root.st_dev && is_sealed) {
            sealed++;
        } else if (st.st_dev != root.st_dev) {
            foreign++;
            char target[128] = "";
            readlink(path, target, sizeof target - 1);
            snprintf(detail, sizeof detail, "pid %s exe %s is not on the container's root", de->d_name, target);
        }
        int fd = open(path, O_WRONLY);
        if (fd >= 0) { writable++; close(fd); snprintf(detail, sizeof detail, "%s opened for writing", path); }
        /* the libraries a host binary maps are not protected by ETXTBSY */
        writable += writable_host_maps(atoi(de->d_name), root.st_dev, detail, sizeof detail);
    }
    if (d) closedir(d);
    if (writable)
        report("write host binary via /proc/*/exe", "ESCAPE", "%s", detail);
    else if (foreign)
        report("write host binary via /proc/*/exe", "OPEN", "readable, not writable: %s", detail);
    else
        report("write host binary via /proc/*/exe", "blocked",
               "%d exe links, all the container's own (%d a sealed copy), none writable", seen,
               sealed);
}

static void a_fd_leak(void) {
    /* CVE-2024-21626: a host directory fd or a host cwd left open into the container. */
    char found[256] = "";
    int leaks = 0;
    const char *dirs[] = {"/proc/self/fd", "/proc/1/fd"};
    for (int k = 0; k < 2; k++) {
        DIR *d = opendir(dirs[k]);
        if (!d) continue;
        int self_fd = dirfd(d);
        int listing_self = k == 0 || getpid() == 1;   /* /proc/1 is us when we are pid 1 */
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            int fd = atoi(de->d_name);
            if (fd <= 2 || (listing_self && fd == self_fd)) continue;
            char path[64], target[160] = "";
            snprintf(path, sizeof path, "%s/%d", dirs[k], fd);
            readlink(path, target, sizeof target - 1);
            /* pipes, sockets and anon inodes can't lead anywhere; files and dirs can */
            if (target[0] != '/') continue;
            leaks++;
            snprintf(found, sizeof found, "%s -> %s", path, target);
        }
        closedir(d);
    }
    char cwd[512];
    if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/') {
        report("host fd or cwd leak", "ESCAPE", "cwd is outside the container: %s",
               getcwd(cwd, sizeof cwd) ? cwd : strerror(errno));
        return;
    }
    if (leaks)
        report("host fd or cwd leak", "ESCAPE", "%d file descriptors into the filesystem: %s", leaks, found);
    else
        report("host fd or cwd leak", "blocked", "only stdio open; cwd %s is inside", cwd);
}

/* CVE-2019-5736 during `berth exec`: the joining process is the host's interpreter until it
 * execs. Watch /proc for new processes until /tmp/watch-stop appears (or 60 s), and for each try
 * what the exploit needs: the exe (not on our root = a host binary) and writing it or the
 * libraries it maps. */
static void a_exec_watch(void) {
    struct stat root;
    stat("/", &root);
    static char seen[65536];
    int fresh = 0, foreign = 0, writable = 0, sealed = 0;
    char detail[256] = "";
    memset(seen, 0, sizeof seen);
    DIR *d0 = opendir("/proc");            /* what exists now is not an exec */
    struct dirent *de;
    while (d0 && (de = readdir(d0))) { int p = atoi(de->d_name); if (p > 0 && p < 65536) seen[p] = 1; }
    if (d0) closedir(d0);
    for (long spins = 0; spins < 6000000 && access("/tmp/watch-stop", F_OK) != 0; spins++) {
        DIR *d = opendir("/proc");
        while (d && (de = readdir(d))) {
            int p = atoi(de->d_name);
            if (p <= 0 || p >= 65536 || seen[p]) continue;
            seen[p] = 1;
            fresh++;
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/exe", p);
            struct stat st;
            int is_sealed;
            if (!exe_stat(path, &st, &is_sealed) || st.st_dev == root.st_dev) continue;
            if (is_sealed) { sealed++; continue; }
            foreign++;
            char target[160] = "";
            readlink(path, target, sizeof target - 1);
            snprintf(detail, sizeof detail, "pid %d exe %s reachable", p, target);
            int fd = open(path, O_WRONLY);
            if (fd >= 0) { writable++; close(fd); snprintf(detail, sizeof detail, "%s opened for writing", path); }
            writable += writable_host_maps(p, root.st_dev, detail, sizeof detail);
        }
        if (d) closedir(d);
        usleep(200);
    }
    if (writable)
        report("host binary during berth exec", "ESCAPE", "%s", detail);
    else if (foreign)
        report("host binary during berth exec", "OPEN", "%d of %d new processes showed a host exe: %s",
               foreign, fresh, detail);
    else
        report("host binary during berth exec", "blocked",
               "%d new processes, none showed a host exe (%d a sealed copy)", fresh, sealed);
}

struct attempt { const char *name; void (*fn)(void); };

static void a_raw_default(void) { a_raw_socket("raw socket"); }
static void a_raw_dropped(void) { a_raw_socket("raw socket (NET_RAW dropped)"); }

static const struct attempt attempts[] = {
    {"reboot", a_reboot}, {"mount", a_mount}, {"umount", a_umount}, {"swapon", a_swapon},
    {"module", a_module}, {"ptrace_host", a_ptrace_host}, {"proc_sys", a_proc_sys},
    {"sys", a_sys}, {"kcore", a_kcore}, {"timer_list", a_timer_list},
    {"interrupts", a_interrupts}, {"firmware", a_firmware}, {"mknod_disk", a_mknod_disk},
    {"sethostname", a_sethostname}, {"unshare_user", a_unshare_user},
    {"unshare_mnt", a_unshare_mnt}, {"setns_host", a_setns_host}, {"setns_own", a_setns_own},
    {"keyctl", a_keyctl}, {"keyctl_i386", a_keyctl_i386}, {"keyctl_x32", a_keyctl_x32},
    {"bpf", a_bpf}, {"vsock", a_vsock},
    {"chroot_breakout", a_chroot_breakout}, {"exe_write", a_exe_write}, {"fd_leak", a_fd_leak},
    {"raw_socket", a_raw_default}, {"raw_socket_no_net_raw", a_raw_dropped},
    {"exec_watch", a_exec_watch},
    {NULL, NULL},
};

/* Refuse to run anywhere but in a container: several attempts (sethostname, mount, mknod,
 * chroot) would change a host they were let loose on. The runner passes the host's namespace
 * inodes; every one of ours must differ. */
static int in_a_container(void) {
    const char *host = getenv("ATTACK_HOST_NS");
    if (!host) return 0;
    const char *kinds[] = {"pid", "uts", "mnt", "ipc"};
    for (int i = 0; i < 4; i++) {
        char path[64], key[16];
        snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[i]);
        snprintf(key, sizeof key, "%s:", kinds[i]);
        struct stat st;
        const char *at = strstr(host, key);
        if (!at || stat(path, &st) != 0) return 0;
        char *end;
        unsigned long ino = strtoul(at + strlen(key), &end, 10);
        if (ino == 0 || end == at + strlen(key)) return 0;   /* missing or unreadable: refuse */
        if ((unsigned long)st.st_ino == ino) return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    if (!in_a_container()) {
        fprintf(stderr, "attack: refusing to run outside a container (ATTACK_HOST_NS missing or "
                        "one of our pid/uts/mnt/ipc namespaces is the host's)\n");
        return 3;
    }
    /* fd_leak first: nothing of ours is open yet beyond stdio */
    if (argc == 1) {
        a_fd_leak();
        for (const struct attempt *a = attempts; a->name; a++)
            if (strcmp(a->name, "fd_leak") && strcmp(a->name, "raw_socket_no_net_raw")
                && strcmp(a->name, "raw_socket") && strcmp(a->name, "exec_watch"))
                a->fn();
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const struct attempt *a;
        for (a = attempts; a->name && strcmp(a->name, argv[i]); a++) {}
        if (!a->name) { fprintf(stderr, "attack: no attempt named %s\n", argv[i]); return 2; }
        a->fn();
    }
    return 0;
}
