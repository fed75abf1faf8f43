/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* runval.c: the value parsers of mproc run's options, as GNU parallel reads
 * them. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

bool parse_jobs_count(const char *s, size_t n, long cpus, long *out, bool *all)
{
    /* As GNU parallel's user_requested_processes: the whole text (a last
       newline aside, as Perl's $ allows) is +N, -N, N% with N maybe
       decimal, or N; 0 is as many as possible; the count is rounded up. */
    if (n > 0 && s[n - 1] == '\n')
        n--;
    size_t i = 0;
    char sign = n > 0 && (s[0] == '+' || s[0] == '-') ? s[0] : 0;
    i += sign != 0;
    size_t d0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == d0)
        return false;
    bool frac = !sign && i < n && s[i] == '.';
    if (frac) {
        size_t f0 = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f0)
            return false;
    }
    bool pct = !sign && i < n && s[i] == '%';
    i += pct;
    if (i != n || (frac && !pct))
        return false;
    char num[64];
    size_t len = (pct ? n - 1 : n) - d0;
    if (len >= sizeof num)
        len = sizeof num - 1; /* past 60 digits the count is no limit anyway */
    memcpy(num, s + d0, len);
    num[len] = '\0';
    double v = strtod(num, NULL);
    *all = false;
    if (sign == '+')
        v = (double)cpus + v;
    else if (sign == '-')
        v = (double)cpus - v;
    else if (pct)
        v = (double)cpus * v / 100;
    else if (v == 0)
        *all = true;
    v = ceil(v);
    *out = v > JOBS_MAX ? JOBS_MAX : v < -1 ? -1 : (long)v;
    return true;
}

int jobs_eval(const char *spec, long cpus, long *out, bool *all, bool *is_file)
{
    /* Not a count: a regular file that holds one (or names another such
       file, as GNU parallel reads it again), read whole each time. */
    *is_file = false;
    char *text = NULL;
    int err = 0;
    const char *s = spec;
    size_t n = strlen(s);
    for (int depth = 0; depth < 8; depth++) {
        if (parse_jobs_count(s, n, cpus, out, all))
            goto out;
        struct stat st;
        if (memchr(s, '\0', n) || stat(s, &st) < 0 || !S_ISREG(st.st_mode)) {
            err = -EINVAL;
            goto out;
        }
        int fd = open(s, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            err = -errno;
            goto out;
        }
        char buf[4096];
        ssize_t got;
        do
            got = read(fd, buf, sizeof buf - 1);
        while (got < 0 && errno == EINTR);
        err = got < 0 ? -errno : 0;
        close(fd);
        if (err < 0)
            goto out;
        buf[got] = '\0';
        free(text);
        text = xstrdup(buf);
        s = text;
        n = (size_t)got;
        *is_file = true;
    }
    err = -ELOOP;
out:
    free(text);
    return err;
}

bool parse_jobs(const char *s, long cpus, long *out)
{
    bool all;
    if (!parse_jobs_count(s, strlen(s), cpus, out, &all))
        return false;
    if (all)
        *out = 0;
    else if (*out < 1)
        *out = 1;
    return true;
}

int run_jobs_resolve(run_opts *o)
{
    bool all, is_file;
    int err = jobs_eval(o->jobs_s, run_cpus(o), &o->jobs, &all, &is_file);
    if (err == -EINVAL)
        return run_usage_error("-j: not a number of jobs: '%s'", o->jobs_s);
    if (err < 0)
        return run_usage_error("cannot read the -j file '%s': %s", o->jobs_s, strerror(-err));
    o->jobs_file = is_file ? o->jobs_s : NULL;
    if (all)
        o->jobs = 0;
    else if (o->jobs < 1)
        return run_usage_error("Cannot run any jobs.");
    return 0;
}

bool parse_halt(run_opts *o, const char *s)
{
    long v;
    /* The old numeric forms: 0 never, 1 soon,fail=1, 2 now,fail=1. */
    if (parse_long(s, &v)) {
        if (v < 0 || v > 2)
            return false;
        o->halt_when = v == 0 ? HALT_NEVER : v == 1 ? HALT_SOON : HALT_NOW;
        o->halt_n = 1;
        return true;
    }
    if (!strcmp(s, "never")) {
        o->halt_when = HALT_NEVER;
        return true;
    }
    const char *comma = strchr(s, ',');
    if (!comma)
        return false;
    size_t wl = (size_t)(comma - s);
    if (wl == 3 && !strncmp(s, "now", 3))
        o->halt_when = HALT_NOW;
    else if (wl == 4 && !strncmp(s, "soon", 4))
        o->halt_when = HALT_SOON;
    else
        return false;
    const char *what = comma + 1, *num;
    if (!strncmp(what, "fail=", 5)) {
        o->halt_success = false;
        num = what + 5;
    } else if (!strncmp(what, "success=", 8)) {
        o->halt_success = true;
        num = what + 8;
    } else {
        return false;
    }
    size_t nl = strlen(num);
    if (nl > 1 && num[nl - 1] == '%') {
        char *end;
        double pct = strtod(num, &end);
        if (end != num + nl - 1 || !(pct > 0 && pct <= 100))
            return false;
        o->halt_pct = pct;
        o->halt_n = -1;
        return true;
    }
    if (!parse_long(num, &v) || v < 1)
        return false;
    o->halt_n = v;
    o->halt_pct = -1;
    return true;
}

bool parse_seconds(const char *s, double *out)
{
    char *end;
    double t = strtod(s, &end);
    if (end == s || *end || !(t > 0) || t > 1e9)
        return false;
    *out = t;
    return true;
}

bool parse_duration(const char *s, double *out)
{
    /* A number of seconds, or numbers each followed by d, h, m or s
       (1h30m, 2.5m), as GNU parallel's multiply_time_units. */
    double total = 0;
    const char *p = s;
    if (!*p)
        return false;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v >= 0))
            return false;
        p = end;
        double unit = 1;
        switch (*p) {
        case 'd': case 'D': unit = 86400; p++; break;
        case 'h': case 'H': unit = 3600; p++; break;
        case 'm': case 'M': unit = 60; p++; break;
        case 's': case 'S': unit = 1; p++; break;
        case '\0': break;
        default: return false;
        }
        total += v * unit;
    }
    if (!(total >= 0) || total > 1e9)
        return false;
    *out = total;
    return true;
}

bool parse_size(const char *s, double *out)
{
    /* As GNU parallel's multiply_binary_prefix: K M G T P E (and Ki, ki,
       Mi ...) are powers of 1024; k m g t p e powers of 1000. */
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0))
        return false;
    if (*end) {
        static const char units[] = "kmgtpe";
        char lc = *end >= 'A' && *end <= 'Z' ? (char)(*end - 'A' + 'a') : *end;
        const char *u = strchr(units, lc);
        if (!u || !*u)
            return false;
        bool binary = *end != lc || end[1] == 'i' || end[1] == 'I';
        for (const char *k = units; k <= u; k++)
            v *= binary ? 1024 : 1000;
        end += 1 + (end[1] == 'i' || end[1] == 'I');
        if (*end)
            return false;
    }
    *out = v;
    return true;
}

static int signal_number(const char *name, size_t n)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = { { "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "ILL", SIGILL },
                 { "ABRT", SIGABRT }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
                 { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
                 { "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "TSTP", SIGTSTP } };
    if (n > 3 && !strncmp(name, "SIG", 3)) {
        name += 3;
        n -= 3;
    }
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (strlen(sigs[i].name) == n && !strncmp(sigs[i].name, name, n))
            return sigs[i].sig;
    char buf[16];
    long v;
    if (n < sizeof buf) {
        memcpy(buf, name, n);
        buf[n] = '\0';
        if (parse_long(buf, &v) && v > 0 && v < 65)
            return (int)v;
    }
    return 0;
}

bool parse_termseq(run_opts *o, const char *s)
{
    /* SIG,MS,SIG,MS,...: each signal then that many milliseconds. */
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n == TERMSEQ_MAX)
            return false;
        size_t l = strcspn(p, ",");
        int sig = signal_number(p, l);
        if (!sig)
            return false;
        p += l;
        double ms = 0;
        if (*p == ',') {
            p++;
            char buf[32];
            l = strcspn(p, ",");
            if (l == 0 || l >= sizeof buf)
                return false;
            memcpy(buf, p, l);
            buf[l] = '\0';
            char *end;
            ms = strtod(buf, &end);
            if (*end || !(ms >= 0 && ms <= 1e9))
                return false;
            p += l;
            p += *p == ',';
        }
        o->term_sig[n] = sig;
        o->term_ms[n] = ms;
        n++;
    }
    if (n == 0)
        return false;
    o->nterm = n;
    return true;
}

bool parse_load(const char *s, long cpus, double *out)
{
    /* +N and -N (CPUs plus or minus N), N% (of the CPUs), or a number. */
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0 || s[0] == '-'))
        return false;
    if (*end == '%' && !end[1] && s[0] != '+' && s[0] != '-')
        v = (double)cpus * v / 100;
    else if (*end)
        return false;
    else if (s[0] == '+' || s[0] == '-')
        v = (double)cpus + v;
    *out = v;
    return true;
}

/* One pass of unescape_printf: each "\\" followed by what match accepts
   (returning its length and the byte it stands for) is replaced. */
static size_t unescape_pass(char *buf, size_t n, size_t (*match)(const char *, size_t, char *))
{
    size_t w = 0;
    for (size_t r = 0; r < n;) {
        char c;
        size_t k = buf[r] == '\\' ? match(buf + r + 1, n - r - 1, &c) : 0;
        if (k) {
            buf[w++] = c;
            r += 1 + k;
        } else {
            buf[w++] = buf[r++];
        }
    }
    return w;
}

static size_t m_t(const char *p, size_t n, char *c) { return n && *p == 't' ? (*c = '\t', 1) : 0; }
static size_t m_n(const char *p, size_t n, char *c) { return n && *p == 'n' ? (*c = '\n', 1) : 0; }
static size_t m_r(const char *p, size_t n, char *c) { return n && *p == 'r' ? (*c = '\r', 1) : 0; }

static size_t m_octal(const char *p, size_t n, size_t len, char *c)
{
    if (n < len)
        return 0;
    int v = 0;
    for (size_t k = 0; k < len; k++) {
        if (p[k] < '0' || p[k] > '9')
            return 0;
        v = v * 8 + (p[k] - '0');
    }
    *c = (char)v;
    return len;
}

static size_t m_d3(const char *p, size_t n, char *c) { return m_octal(p, n, 3, c); }
static size_t m_d1(const char *p, size_t n, char *c) { return m_octal(p, n, 1, c); }

size_t unescape_printf(const char *s, char *out, size_t cap)
{
    /* As GNU parallel's unquote_printf: \t, then \n, then \r, then \NNN
       and \N in octal, one pass each, so "\\" stays as it is. */
    size_t n = strlen(s);
    if (n >= cap)
        return cap;
    memcpy(out, s, n);
    size_t (*const passes[])(const char *, size_t, char *) = { m_t, m_n, m_r, m_d3, m_d1 };
    for (size_t k = 0; k < sizeof passes / sizeof passes[0]; k++)
        n = unescape_pass(out, n, passes[k]);
    return n;
}
