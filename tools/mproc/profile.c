/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* profile.c: options from GNU parallel's profiles and $PARALLEL, put
 * before the command line's: -J NAME reads NAME from the configuration
 * folders ($PARALLEL_HOME, $XDG_CONFIG_HOME/parallel, each of
 * $XDG_CONFIG_DIRS/parallel, ~/.parallel), a path as it is; without -J,
 * /etc/parallel/config, each folder's config and ~/.parallelrc, when they
 * exist. Lines starting with # are comments; words split as the shell
 * splits them (quotes, backslashes). */
#include "run.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void words_add(profile_args *p, const char *w, size_t n)
{
    if (p->n + 2 > p->cap) {
        p->cap = (p->n + 2) * 2;
        p->argv = xrealloc(p->argv, p->cap * sizeof *p->argv);
    }
    char *c = xmalloc(n + 1);
    memcpy(c, w, n);
    c[n] = '\0';
    p->argv[p->n++] = c;
    p->argv[p->n] = NULL;
}

void split_shell_words(profile_args *p, const char *s)
{
    /* As Perl's Text::ParseWords::shellwords. */
    tbuf w = {0};
    bool in_word = false;
    while (*s) {
        char c = *s;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word)
                words_add(p, w.p ? w.p : "", w.len);
            w.len = 0;
            in_word = false;
            s++;
            continue;
        }
        in_word = true;
        if (c == '\'') {
            for (s++; *s && *s != '\''; s++)
                if (*s == '\\' && (s[1] == '\\' || s[1] == '\''))
                    tbuf_addc(&w, *++s);
                else
                    tbuf_addc(&w, *s);
            s += *s == '\'';
        } else if (c == '"') {
            for (s++; *s && *s != '"'; s++)
                tbuf_addc(&w, *s == '\\' && s[1] ? *++s : *s);
            s += *s == '"';
        } else if (c == '\\' && s[1]) {
            tbuf_addc(&w, s[1]);
            s += 2;
        } else {
            tbuf_addc(&w, c);
            s++;
        }
    }
    if (in_word)
        words_add(p, w.p ? w.p : "", w.len);
    tbuf_free(&w);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return p && *p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The configuration folders that exist, in GNU parallel's order. */
static void config_dirs(profile_args *dirs)
{
    const char *home = getenv("HOME");
    tbuf b = {0};
    const char *ph = getenv("PARALLEL_HOME");
    if (is_dir(ph))
        words_add(dirs, ph, strlen(ph));
    const char *xdg = getenv("XDG_CONFIG_HOME");
    if (xdg && *xdg) {
        tbuf_addf(&b, "%s/parallel", xdg);
        if (is_dir(b.p))
            words_add(dirs, b.p, b.len);
    }
    const char *xd = getenv("XDG_CONFIG_DIRS");
    for (const char *p = xd; p && *p;) {
        size_t n = strcspn(p, ":");
        b.len = 0;
        tbuf_addf(&b, "%.*s/parallel", (int)n, p);
        if (n && is_dir(b.p))
            words_add(dirs, b.p, b.len);
        p += n;
        p += *p == ':';
    }
    b.len = 0;
    tbuf_addf(&b, "%s/.parallel", home ? home : "");
    if (is_dir(b.p))
        words_add(dirs, b.p, b.len);
    tbuf_free(&b);
}

static void read_profile(profile_args *p, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        const char *q = line;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '#')
            continue;
        split_shell_words(p, line);
    }
    free(line);
    fclose(f);
}

void profile_collect(profile_args *p, const run_opts *o)
{
    profile_args dirs = { 0 };
    config_dirs(&dirs);
    tbuf b = {0};
    if (o->nprofiles == 0) {
        read_profile(p, "/etc/parallel/config");
        for (size_t k = 0; k < dirs.n; k++) {
            b.len = 0;
            tbuf_addf(&b, "%s/config", dirs.argv[k]);
            read_profile(p, b.p);
        }
        const char *home = getenv("HOME");
        b.len = 0;
        tbuf_addf(&b, "%s/.parallelrc", home ? home : "");
        read_profile(p, b.p);
    }
    for (size_t k = 0; k < o->nprofiles; k++) {
        const char *name = o->profiles[k];
        if (name[0] == '/' || !strncmp(name, "./", 2)) {
            read_profile(p, name);
            continue;
        }
        for (size_t d = 0; d < dirs.n; d++) {
            b.len = 0;
            tbuf_addf(&b, "%s/%s", dirs.argv[d], name);
            read_profile(p, b.p);
        }
    }
    tbuf_free(&b);
    profile_free(&dirs);
}

void profile_free(profile_args *p)
{
    for (size_t k = 0; k < p->n; k++)
        free(p->argv[k]);
    free(p->argv);
    memset(p, 0, sizeof *p);
}
