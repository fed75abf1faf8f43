/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* shell.c: which shell runs mproc run's jobs, chosen as GNU parallel does:
 * $PARALLEL_SHELL, else the nearest ancestor that is a known shell, else
 * $SHELL, else /bin/sh; and whether a command word is a bash function
 * exported into the environment (then it must go through the shell).
 */
#include "run.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* The shells GNU parallel knows by their names. */
static const char *const shells[] = {
    "ash",  "bash", "bsd-csh", "csh",  "dash", "fdsh",      "fish", "fizsh", "ksh",
    "ksh93", "lksh", "mksh",   "pdksh", "posh", "rbash",     "rc",   "rush",  "rzsh",
    "sash", "sh",   "static-sh", "tcsh", "yash", "zsh",      NULL
};

/* Read a small /proc file whole; returns its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Whether name at p (len n) is a known shell. */
static bool known_shell(const char *p, size_t n)
{
    for (size_t i = 0; shells[i]; i++)
        if (strlen(shells[i]) == n && !strncmp(shells[i], p, n))
            return true;
    return false;
}

/* The shell name a process's argv[0] shows, as GNU parallel recognises it
   ("bash", "/bin/sh", "-bash", "[sh]", "busybox sh"; not "foo.sh" or
   "sshd"): its start and length in a0, and whether a login '-' led it. */
static bool shell_in_argv0(const char *a0, const char **name, size_t *len, bool *dash)
{
    const char *p = a0, *end;
    if (*p == '[') {
        p++;
        *dash = *p == '-';
        p += *dash;
        end = strchr(p, ']');
        if (!end || !known_shell(p, (size_t)(end - p)))
            return false;
        *name = p;
        *len = (size_t)(end - p);
        end++;
    } else {
        if (!strncmp(p, "busybox ", 8)) {
            p += 8;
        } else {
            /* A path before the name: no blank in it. */
            const char *blank = p + strcspn(p, " \t\n");
            for (const char *q = p; q < blank; q++)
                if (*q == '/')
                    p = q + 1;
        }
        *dash = *p == '-';
        p += *dash;
        size_t n = strcspn(p, " ");
        if (!known_shell(p, n))
            return false;
        *name = p;
        *len = n;
        end = p + n;
    }
    /* Then only blanks, or a blank and something other than '('. */
    const char *q = end;
    while (*q == ' ')
        q++;
    if (*q && (q == end || (q == end + 1 && *q == '(')))
        return false;
    return true;
}

/* The path of the nearest ancestor of pid that is a shell, or NULL. */
static char *parent_shell(pid_t pid)
{
    char path[64], buf[4096];
    for (int depth = 0; pid > 0 && depth < 4096; depth++) {
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
        const char *name;
        size_t len;
        bool dash;
        if (read_small(path, buf, sizeof buf) > 0 && shell_in_argv0(buf, &name, &len, &dash)) {
            char sh[32];
            snprintf(sh, sizeof sh, "%.*s", (int)len, name);
            if (dash && !strcmp(sh, "sh")) {
                /* A login "-sh" may be any shell: ask the kernel. */
                char exe[4096];
                snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
                ssize_t n = readlink(path, exe, sizeof exe - 1);
                if (n > 0) {
                    exe[n] = '\0';
                    const char *base = strrchr(exe, '/');
                    if (base && known_shell(base + 1, strlen(base + 1)))
                        return xstrdup(exe);
                }
            }
            char *found = spawn_search(sh);
            if (!found && dash && !strcmp(sh, "csh"))
                found = spawn_search("tcsh");
            if (!found && strcmp(sh, "sh"))
                found = spawn_search("sh");
            return found;
        }
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        if (read_small(path, buf, sizeof buf) <= 0)
            break;
        /* The parent is the fourth field, after the name in parentheses. */
        const char *rp = strrchr(buf, ')');
        int ppid;
        if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1)
            break;
        pid = ppid;
    }
    return NULL;
}

/* The shell, before the quoting for it is chosen. */
static char *shell_find(void)
{
    const char *env = getenv("PARALLEL_SHELL");
    if (env && *env)
        return xstrdup(env);
    char *sh = parent_shell(getpid());
    if (sh)
        return sh;
    env = getenv("SHELL");
    if (env && *env)
        return xstrdup(env);
    return xstrdup("/bin/sh");
}

char *shell_choose(void)
{
    char *sh = shell_find();
    shell_quote_for(sh);
    return sh;
}

bool shell_usable(const char *sh)
{
    if (access(sh, X_OK) == 0)
        return true;
    if (strchr(sh, '/'))
        return false;
    char *p = spawn_search(sh);
    free(p);
    return p != NULL;
}

bool shell_exports_functions(void)
{
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "BASH_FUNC_", 10))
            return true;
    return false;
}

bool shell_is_function(const char *word, size_t len)
{
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "BASH_FUNC_", 10) && !strncmp(*e + 10, word, len) &&
            !strncmp(*e + 10 + len, "%%=", 3))
            return true;
    return false;
}
