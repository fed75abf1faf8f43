/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* sources.c: mproc run's input sources (-a, :::, ::::, :::+, ::::+, or
 * stdin) and how their values become a job's values, as GNU parallel makes
 * them: every combination of the sources, the last varying fastest; linked
 * sources paired (:::+ to the shortest, --link wrapping the shorter ones);
 * --colsep columns; --header names; --shuf order.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "run.h"

#include <pcre2.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static bool is_sep(const char *a, const char *sep, bool *plus)
{
    size_t n = strlen(sep);
    if (strncmp(a, sep, n))
        return false;
    *plus = a[n] == '+';
    return a[n] == '\0' || (a[n] == '+' && a[n + 1] == '\0');
}

bool sources_is_marker(const run_opts *o, const char *a)
{
    bool plus = false;
    return is_sep(a, o->arg_sep, &plus) || is_sep(a, o->arg_file_sep, &plus);
}

static source *add_source(sources *s, bool linked)
{
    if (s->nsrc == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->src = xrealloc(s->src, s->cap * sizeof *s->src);
        s->linked = xrealloc(s->linked, s->cap * sizeof *s->linked);
        s->rd = xrealloc(s->rd, s->cap * sizeof *s->rd);
    }
    size_t k = s->nsrc++;
    memset(&s->src[k], 0, sizeof s->src[k]);
    s->linked[k] = linked;
    s->rd[k] = s->reader;
    return &s->src[k];
}

static int read_file(sources *s, const char *path, bool linked, int *rc)
{
    source *v = add_source(s, linked);
    rec_reader *rd = &s->rd[s->nsrc - 1];
    int fd = !strcmp(path, "-") ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *rc = run_usage_error("cannot open input file '%s': %s", path, strerror(errno));
        return -1;
    }
    int err = rec_read_fd(v, rd, fd);
    if (fd > 0)
        close(fd);
    if (err < 0) {
        *rc = run_usage_error("cannot read input file '%s': %s", path, strerror(-err));
        return -1;
    }
    return 0;
}

int sources_read(sources *s, const run_opts *o, int argc, char **argv, int i, int *rc)
{
    static const char nl = '\n', nul = '\0';
    s->reader = (rec_reader){ .delim = o->dlen ? o->delim : o->null ? &nul : &nl,
                              .dlen = o->dlen ? o->dlen : 1, .eof = o->eof,
                              .skip_blank = o->skip_blank, .trim = o->colsep ? 0 : o->trim };
    /* --colsep's columns lose their white space on both sides unless
       --trim says otherwise, as in GNU parallel. */
    s->trim = o->colsep && !(o->trim & TRIM_GIVEN) ? TRIM_LEFT | TRIM_RIGHT : o->trim;
    /* --header splits by a tab unless --colsep says otherwise, as GNU
       parallel does. */
    const char *colsep = o->colsep ? o->colsep : o->header ? "\t" : NULL;
    s->reader.trim = colsep ? 0 : o->trim;
    bool given = o->nargfiles > 0 || i < argc;
    if (colsep) {
        int code;
        PCRE2_SIZE off;
        s->colsep = pcre2_compile((PCRE2_SPTR)colsep, PCRE2_ZERO_TERMINATED, 0, &code, &off,
                                  NULL);
        if (!s->colsep) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(code, msg, sizeof msg);
            *rc = run_usage_error("--colsep '%s': %s", o->colsep, (char *)msg);
            return -1;
        }
        s->md = pcre2_match_data_create_from_pattern(s->colsep, NULL);
    }
    for (size_t k = 0; k < o->nargfiles; k++)
        if (read_file(s, o->argfiles[k], o->link, rc) < 0)
            return -1;
    while (i < argc) {
        bool plus = false, files = is_sep(argv[i], o->arg_file_sep, &plus);
        if (!files)
            (void)is_sep(argv[i], o->arg_sep, &plus);
        i++;
        bool linked = plus || o->link;
        if (!files) {
            source *v = add_source(s, linked);
            rec_reader *rd = &s->rd[s->nsrc - 1];
            for (; i < argc && !sources_is_marker(o, argv[i]); i++)
                rec_push(v, rd, argv[i], strlen(argv[i]));
            continue;
        }
        for (; i < argc && !sources_is_marker(o, argv[i]); i++) {
            if (read_file(s, argv[i], linked, rc) < 0)
                return -1;
            linked = o->link || plus;
        }
    }
    if (!given) {
        /* No source: stdin. Read as the jobs run, so that jobs start
           before the input ends (tail -f | mproc run ...), unless every
           value is needed first. */
        add_source(s, false);
        s->stdin_only = true;
        if (isatty(0) && isatty(2))
            fputs("mproc run: Warning: Input is read from the terminal; end it with Ctrl-D "
                  "(or give ::: or :::: or -a).\n",
                  stderr);
        if (o->jobs != 0 && !o->dry && !o->whole_input && !o->shuf) {
            s->streaming = true;
            return 0;
        }
        int err = rec_read_fd(&s->src[0], &s->rd[0], 0);
        if (err < 0) {
            *rc = run_usage_error("cannot read stdin: %s", strerror(-err));
            return -1;
        }
        return 0;
    }
    if (s->nsrc == 0) /* ":::: " with no file: nothing to combine */
        add_source(s, false);
    return 0;
}

void sources_use(sources *s, source *v)
{
    source *d = add_source(s, false);
    for (size_t k = 0; k < v->n; k++)
        source_push(d, v->v[k]);
}

int sources_read_rest(sources *s, int *rc)
{
    if (!s->streaming)
        return 0;
    s->streaming = false;
    char buf[65536];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *rc = run_usage_error("cannot read stdin: %s", strerror(errno));
            return -1;
        }
        if (n == 0)
            break;
        rec_feed(&s->src[0], &s->rd[0], &s->partial, buf, (size_t)n);
    }
    rec_end(&s->src[0], &s->rd[0], &s->partial);
    s->eof = true;
    return 0;
}

/* Streaming: read stdin until its first record is whole (--header). */
static int read_first(sources *s, int *rc)
{
    char c;
    while (s->src[0].n == 0 && !s->eof) {
        ssize_t n = read(0, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *rc = run_usage_error("cannot read stdin: %s", strerror(errno));
            return -1;
        }
        sources_feed(s, &c, (size_t)n);
    }
    return 0;
}

/* Split v into its --colsep columns (trimmed), appended to out as
   NUL-terminated strings; the number of columns. */
static size_t split_cols(sources *s, const char *v, tbuf *out)
{
    size_t len = strlen(v), start = 0, n = 0;
    PCRE2_SIZE at = 0;
    while (at <= len) {
        int m = pcre2_match(s->colsep, (PCRE2_SPTR)v, len, at, 0, s->md, NULL);
        if (m < 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        if (ov[1] == ov[0]) {
            /* An empty match splits between characters, as Perl's split. */
            if (ov[0] >= len)
                break;
            if (ov[0] == 0) {
                at = 1;
                continue;
            }
        }
        const char *c = v + start;
        size_t cl = ov[0] - start;
        trim_span(&c, &cl, s->trim);
        tbuf_add(out, c, cl);
        tbuf_addc(out, '\0');
        n++;
        start = ov[1];
        at = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
    }
    const char *c = v + start;
    size_t cl = len - start;
    trim_span(&c, &cl, s->trim);
    tbuf_add(out, c, cl);
    tbuf_addc(out, '\0');
    return n + 1;
}

/* Replace {name} (and {name/} {name//} {name.} {name/.}, {=name ...=})
   by {id...} in word: a new string. */
static char *rename_word(const char *word, const char *name, size_t id)
{
    static const char *const tails[] = { "}", "/}", "//}", ".}", "/.}" };
    size_t nl = strlen(name);
    tbuf b = {0};
    for (const char *p = word; *p;) {
        bool done = false;
        if (p[0] == '{' && !strncmp(p + 1, name, nl)) {
            for (size_t t = 0; t < 5 && !done; t++)
                if (!strncmp(p + 1 + nl, tails[t], strlen(tails[t]))) {
                    tbuf_addf(&b, "{%zu%s", id, tails[t]);
                    p += 1 + nl + strlen(tails[t]);
                    done = true;
                }
        } else if (!strncmp(p, "{=", 2) && !strncmp(p + 2, name, nl) && strstr(p + 2 + nl, "=}")) {
            tbuf_addf(&b, "{=%zu", id);
            p += 2 + nl;
            done = true;
        }
        if (!done)
            tbuf_addc(&b, *p++);
    }
    tbuf_addc(&b, '\0');
    return b.p;
}

static void rename_all(sources *s, char **words, size_t nwords, const char *name, size_t id)
{
    s->names = xrealloc(s->names, (s->nnames + 1) * sizeof *s->names);
    s->names[s->nnames++] = xstrdup(name);
    (void)id;
    for (size_t w = 0; w < nwords; w++) {
        char *n = rename_word(words[w], name, id);
        free(words[w]);
        words[w] = n;
    }
}

int sources_header(sources *s, const run_opts *o, char **words, size_t nwords, int argc,
                   char **argv, int i, int *rc)
{
    if (!o->header)
        return 0;
    size_t id = 1;
    if (!strcmp(o->header, "0")) {
        /* The names of the files: {file1} is the first :::: file's value. */
        for (size_t k = 0; k < o->nargfiles; k++)
            rename_all(s, words, nwords, o->argfiles[k], id++);
        for (bool files = false; i < argc; i++) {
            bool plus = false;
            if (sources_is_marker(o, argv[i]))
                files = is_sep(argv[i], o->arg_file_sep, &plus);
            else if (files)
                rename_all(s, words, nwords, argv[i], id++);
        }
        return 0;
    }
    if (s->streaming && read_first(s, rc) < 0)
        return -1;
    /* The first value of each source names its columns (split as the
       values are, by --colsep or a tab), and is no value itself. */
    for (size_t k = 0; k < s->nsrc; k++) {
        source *v = &s->src[k];
        if (v->n == 0)
            continue;
        tbuf cols = {0};
        size_t n = split_cols(s, v->v[0], &cols);
        const char *c = cols.p;
        for (size_t m = 0; m < n; m++, c += strlen(c) + 1)
            rename_all(s, words, nwords, c, id++);
        tbuf_free(&cols);
        free(v->v[0]);
        memmove(v->v, v->v + 1, (v->n - 1) * sizeof *v->v);
        v->n--;
    }
    return 0;
}

/* The groups of linked sources: group g holds sources [gfirst[g],
   gfirst[g + 1]); its length is the shortest member's with :::+, the
   longest's with --link. */
static size_t group_len(const sources *s, size_t first, size_t end, bool wrap)
{
    size_t len = s->src[first].n;
    for (size_t k = first + 1; k < end; k++)
        len = wrap ? (s->src[k].n > len ? s->src[k].n : len)
                   : (s->src[k].n < len ? s->src[k].n : len);
    return len;
}

static size_t group_end(const sources *s, size_t first)
{
    size_t k = first + 1;
    while (k < s->nsrc && s->linked[k])
        k++;
    return k;
}

static uint64_t rnd_next(uint64_t *x)
{
    /* splitmix64 */
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

size_t sources_count(sources *s, const run_opts *o)
{
    size_t total = 1;
    for (size_t k = 0; k < s->nsrc; k++)
        if (s->src[k].n == 0 && s->nsrc > 1)
            source_push(&s->src[k], "");
    for (size_t g = 0; g < s->nsrc; g = group_end(s, g)) {
        size_t len = group_len(s, g, group_end(s, g), o->link);
        if (len == 0)
            return 0;
        if (total > SIZE_MAX / len)
            return SIZE_MAX;
        total *= len;
    }
    if (o->shuf && total > 0 && total != SIZE_MAX) {
        s->order = xmalloc(total * sizeof *s->order);
        for (size_t k = 0; k < total; k++)
            s->order[k] = k;
        uint64_t x;
        if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x)
            x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
        for (size_t k = total; k > 1; k--) {
            size_t j = (size_t)(rnd_next(&x) % k);
            size_t t = s->order[k - 1];
            s->order[k - 1] = s->order[j];
            s->order[j] = t;
        }
    }
    s->link = o->link;
    return total;
}

/* Room for n more values in the job's list. */
static void jv_room(sources *s, size_t n)
{
    if (s->jn + n > s->jcap) {
        s->jcap = (s->jn + n) * 2;
        s->jv = xrealloc(s->jv, s->jcap * sizeof *s->jv);
    }
}

size_t sources_job(sources *s, size_t idx, char ***vals)
{
    if (s->order)
        idx = s->order[idx];
    s->jn = 0;
    jv_room(s, s->nsrc);
    if (s->nsrc == 1 && !s->colsep) {
        /* One source (-X's 100,000 values are looked up one by one). */
        s->jv[s->jn++] = s->src[0].v[idx % s->src[0].n];
        *vals = s->jv;
        return s->jn;
    }
    /* Each group's position, the last group varying fastest. */
    size_t ngroups = 0;
    for (size_t g = 0; g < s->nsrc; g = group_end(s, g))
        ngroups++;
    size_t firsts[ngroups ? ngroups : 1], pos[ngroups ? ngroups : 1], gi = 0;
    for (size_t g = 0; g < s->nsrc; g = group_end(s, g))
        firsts[gi++] = g;
    for (size_t k = ngroups; k-- > 0;) {
        size_t end = group_end(s, firsts[k]);
        size_t len = group_len(s, firsts[k], end, s->link);
        pos[k] = idx % len;
        idx /= len;
    }
    for (size_t k = 0; k < ngroups; k++)
        for (size_t m = firsts[k]; m < group_end(s, firsts[k]); m++)
            s->jv[s->jn++] = s->src[m].v[pos[k] % s->src[m].n];
    if (s->colsep) {
        /* Each value becomes its columns. */
        s->cols.len = 0;
        size_t counts[s->jn ? s->jn : 1], nv = s->jn, total = 0;
        for (size_t k = 0; k < nv; k++)
            total += counts[k] = split_cols(s, s->jv[k], &s->cols);
        jv_room(s, total);
        const char *c = s->cols.p;
        s->jn = 0;
        for (size_t k = 0; k < total; k++, c += strlen(c) + 1)
            s->jv[s->jn++] = (char *)c;
    }
    *vals = s->jv;
    return s->jn;
}

void sources_feed(sources *s, const char *data, size_t n)
{
    if (n == 0) {
        rec_end(&s->src[0], &s->rd[0], &s->partial);
        s->eof = true;
        return;
    }
    rec_feed(&s->src[0], &s->rd[0], &s->partial, data, n);
    /* After -E's end-of-file string nothing more is read. */
    if (s->rd[0].ended) {
        s->partial.len = 0;
        s->eof = true;
    }
}

void sources_free(sources *s)
{
    for (size_t k = 0; k < s->nsrc && s->src; k++)
        source_free(&s->src[k]);
    free(s->src);
    free(s->linked);
    free(s->rd);
    free(s->order);
    free(s->jv);
    for (size_t k = 0; k < s->nnames; k++)
        free(s->names[k]);
    free(s->names);
    tbuf_free(&s->partial);
    tbuf_free(&s->cols);
    if (s->md)
        pcre2_match_data_free(s->md);
    if (s->colsep)
        pcre2_code_free(s->colsep);
    memset(s, 0, sizeof *s);
}
