/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* runval.c: the value parsers of mproc run's options, as GNU parallel reads
 * them. */
#include "run.h"

#include "mproc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

bool parse_jobs(const char *s, long *out)
{
    long cpus = mproc_cpu_count(), v;
    size_t len = strlen(s);
    if (len > 1 && s[len - 1] == '%') {
        char tmp[32];
        if (len >= sizeof tmp)
            return false;
        memcpy(tmp, s, len - 1);
        tmp[len - 1] = '\0';
        if (!parse_long(tmp, &v) || v < 0)
            return false;
        *out = cpus * v / 100 > 0 ? cpus * v / 100 : 1;
        return true;
    }
    if (!parse_long(s, &v))
        return false;
    if (s[0] == '+')
        v = cpus + v;
    else if (s[0] == '-')
        v = cpus + v > 0 ? cpus + v : 1;
    if (v < 0)
        return false;
    *out = v;
    return true;
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
