/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* cmd.c: the command line of a job: a parsed template (repl.c) expanded
 * with the job's values, shell quoting, and when a line may skip the
 * shell.
 *
 * DESIGN. A template is literal text, word separators and expressions. An
 * expression of one position stands for that value once; any other stands
 * for every value of the job in turn, separated like words (so {} with
 * three sources is three quoted words). Each value is quoted for /bin/sh,
 * so it is always one word and never code, unless the replacement string
 * is part of the command itself (GNU parallel then leaves it as it is),
 * -q quotes whole words instead, or the expression called uq(). The
 * expressions GNU parallel has by default ({} {.} {/} {//} {/.} {#} {%})
 * are computed here, with the meaning their Perl has; every other goes to
 * the perl coprocess, one round trip per job. A line that ends up as plain
 * words (the common `true`, `gzip -9 file.txt`) may be executed without
 * the shell: cmd_plain_argv decides when that cannot change what the job
 * does, its output or its exit status.
 */
#include "repl.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* [-_.+/a-zA-Z0-9] as a bitmap of the bytes below 128: every value of -X's
   lines is scanned with it. */
static bool quote_safe(unsigned char c)
{
    static const uint64_t safe[2] = { 0x03ffe80000000000ULL, 0x07fffffe87fffffeULL };
    return c < 128 && (safe[c >> 6] >> (c & 63)) & 1;
}

/* (t)csh takes no '...' around a word GNU parallel would quote for it:
   each special byte gets a backslash instead, as GNU parallel's
   shell_quote_scalar_csh writes it. */
static bool quote_csh;
/* rc takes '...' with '' for a quote inside: each run of special bytes is
   quoted so, the rest left bare, as GNU parallel's shell_quote_scalar_rc
   writes it. */
static bool quote_rc;

void shell_quote_for(const char *shell)
{
    quote_csh = shell && strstr(shell, "csh"); /* GNU's m:(/[-a-z]*)?csh: */
    const char *base = shell ? strrchr(shell, '/') : NULL;
    quote_rc = !quote_csh && shell && !strcmp(base ? base + 1 : shell, "rc");
}

bool shell_quotes_rc(void)
{
    return quote_rc;
}

bool shell_quotes_csh(void)
{
    return quote_csh;
}

static bool csh_special(unsigned char c)
{
    return (c >= 2 && c <= 9) || (c >= 11 && c <= 26) || c >= 0202 ||
           (c && strchr("\\#?`(){}[]^*<=>~|; \"!$&'", c));
}

static void csh_quote(tbuf *out, const char *s, size_t len)
{
    bool any = false;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '\n') {
            tbuf_adds(out, "\"\\\n\""); /* "\<newline>" */
            any = true;
        } else {
            if (csh_special(c)) {
                tbuf_addc(out, '\\');
                any = true;
            }
            tbuf_addc(out, (char)c);
        }
    }
    if (!any && len == 0)
        tbuf_adds(out, "''");
    tbuf_cstr(out);
}

/* The bytes rc quotes: csh's, and the newline. */
static bool rc_special(unsigned char c)
{
    return c == '\n' || csh_special(c);
}

static void rc_quote(tbuf *out, const char *s, size_t len)
{
    if (len == 0) {
        tbuf_adds(out, "''");
        return;
    }
    for (size_t k = 0; k < len;) {
        if (!rc_special((unsigned char)s[k])) {
            tbuf_addc(out, s[k++]);
            continue;
        }
        tbuf_addc(out, '\'');
        for (; k < len && rc_special((unsigned char)s[k]); k++) {
            if (s[k] == '\'')
                tbuf_addc(out, '\'');
            tbuf_addc(out, s[k]);
        }
        tbuf_addc(out, '\'');
    }
    tbuf_cstr(out);
}

void shell_quote_n(tbuf *out, const char *s, size_t len)
{
    if (quote_csh) {
        csh_quote(out, s, len);
        return;
    }
    if (quote_rc) {
        rc_quote(out, s, len);
        return;
    }
    if (len == 0) {
        tbuf_adds(out, "''");
        return;
    }
    size_t k = 0;
    while (k < len && quote_safe((unsigned char)s[k]))
        k++;
    if (k == len) {
        tbuf_add(out, s, len);
        return;
    }
    /* 'text', with each ' written as '"'"'; a leading and a trailing empty
       '' are dropped, which gives exactly GNU parallel's quoting. */
    size_t start = out->len;
    tbuf_addc(out, '\'');
    for (k = 0; k < len; k++) {
        if (s[k] == '\'')
            tbuf_adds(out, "'\"'\"'");
        else
            tbuf_addc(out, s[k]);
    }
    tbuf_addc(out, '\'');
    if (out->len - start >= 2 && !memcmp(out->p + start, "''", 2)) {
        memmove(out->p + start, out->p + start + 2, out->len - start - 2);
        out->len -= 2;
    }
    if (out->len - start >= 2 && !memcmp(out->p + out->len - 2, "''", 2))
        out->len -= 2;
    tbuf_cstr(out);
}

/* The length shell_quote_n writes for s, counted without writing: with
   each ' four bytes longer and the two quotes around, less the leading
   and trailing '' that shell_quote_n drops (a ' first or last). Bourne
   shells' quoting only; (t)csh's and rc's are written out to be
   measured. */
static size_t shell_quote_len(const char *s, size_t len)
{
    if (len == 0)
        return 2;
    size_t quotes = 0;
    bool safe = true;
    for (size_t k = 0; k < len; k++) {
        safe = safe && quote_safe((unsigned char)s[k]);
        quotes += s[k] == '\'';
    }
    if (safe)
        return len;
    size_t n = len + 2 + 4 * quotes;
    if (s[0] == '\'')
        n -= 2;
    if (s[len - 1] == '\'')
        n -= 2;
    return n;
}

void shell_quote(tbuf *out, const char *s)
{
    shell_quote_n(out, s, strlen(s));
}

/* ---- GNU parallel's default expressions, as their Perl behaves ------------ */

/* s:\.[^/.]*$:: removes the last '.' and what follows when no '/' does:
   ".hidden" has an empty name and "../x" none. */
static size_t noext_len(const char *v, size_t len)
{
    for (size_t i = len; i-- > 0;) {
        if (v[i] == '/')
            return len;
        if (v[i] == '.')
            return i;
    }
    return len;
}

/* {/}'s s:.*[/]:: removes, in the first line that holds a '/', everything up to
   its last '/' ('.' does not match a newline); the offset of what is left
   and the removed length. */
static void base_cut(const char *v, size_t len, size_t *from, size_t *to)
{
    for (size_t ls = 0; ls <= len;) {
        const char *nl = memchr(v + ls, '\n', len - ls);
        size_t le = nl ? (size_t)(nl - v) : len;
        for (size_t k = le; k-- > ls;) {
            if (v[k] == '/') {
                *from = ls;
                *to = k + 1;
                return;
            }
        }
        if (!nl)
            break;
        ls = le + 1;
    }
    *from = *to = 0;
}

/* File::Basename's dirname: "dir/" is in ".", "/" is "/". */
static void add_dirname(tbuf *out, const char *v, size_t len)
{
    size_t n = len;
    while (n > 1 && v[n - 1] == '/')
        n--;
    if (n == 0) {
        tbuf_addc(out, '.');
        return;
    }
    if (n == 1 && v[0] == '/') {
        tbuf_addc(out, '/');
        return;
    }
    while (n > 0 && v[n - 1] != '/')
        n--;
    if (n == 0) {
        tbuf_addc(out, '.');
        return;
    }
    while (n > 1 && v[n - 1] == '/')
        n--;
    tbuf_add(out, v, n);
}

/* The value of fn on v into out (emptied first). */
static void builtin(tbuf *out, int fn, const char *v, const cmd_job *job)
{
    size_t len = strlen(v), from, to;
    out->len = 0;
    switch (fn) {
    case FN_VAL:
        tbuf_add(out, v, len);
        break;
    case FN_SEQ:
        tbuf_addf(out, "%zu", job->seq);
        break;
    case FN_SLOT:
        tbuf_addf(out, "%ld", job->slot);
        break;
    case FN_NOEXT:
        tbuf_add(out, v, noext_len(v, len));
        break;
    case FN_BASE:
    case FN_BASE_NOEXT:
        base_cut(v, len, &from, &to);
        tbuf_add(out, v, from);
        tbuf_add(out, v + to, len - to);
        if (fn == FN_BASE_NOEXT)
            out->len = noext_len(out->p, out->len);
        break;
    case FN_DIR:
        add_dirname(out, v, len);
        break;
    default:
        assert(!"an expression for perl");
    }
    tbuf_cstr(out);
}

/* ---- expanding a template ---------------------------------------------------- */

/* The value index of a positional expression among n, as Perl indexes
   GNU parallel's list: from the end when negative (twice, if need be);
   -1 when there is none. */
static long pos_index(long pos, size_t n)
{
    long nn = (long)n;
    if (pos == 0)
        return -1;
    long i = pos > 0 ? pos - 1 : nn + pos;
    if (i < 0)
        i += nn;
    return i >= 0 && i < nn ? i : -1;
}

typedef struct expand {
    const cmd_tmpl *t;
    const cmd_job *job;
    char *const *vals;
    size_t n;
    tbuf *out, group, tmp;
    bool count;         /* only count the line's bytes into counted */
    size_t counted;
    tbuf pdata;         /* perl's values */
    perl_res *pres;
    size_t npres, next; /* perl's results, the next to use */
} expand;

/* A word ends: with -q the word so far is quoted whole. */
static void end_word(expand *e, bool last)
{
    if (e->count) {
        e->counted += !last;
        return;
    }
    if (e->t->quote_words) {
        shell_quote_n(e->out, e->group.p ? e->group.p : "", e->group.len);
        e->group.len = 0;
    }
    if (!last)
        tbuf_addc(e->out, ' ');
}

static void put_value(expand *e, const char *v, size_t len, bool unquoted)
{
    tbuf *dst = e->t->quote_words ? &e->group : e->out;
    if (e->count) {
        e->counted += e->t->quote_values && !unquoted ? shell_quote_len(v, len) : len;
        return;
    }
    if (e->t->quote_values && !e->t->quote_words && !unquoted)
        shell_quote_n(dst, v, len);
    else
        tbuf_add(dst, v, len);
}

/* Expression s on value i. */
static void put_expr(expand *e, const seg *s, size_t i)
{
    if (s->fn == FN_PERL) {
        assert(e->next < e->npres);
        const perl_res *r = &e->pres[e->next++];
        put_value(e, e->pdata.p + r->off, r->len, r->unquoted);
        return;
    }
    if (s->fn == FN_VAL) {
        put_value(e, e->vals[i], strlen(e->vals[i]), false);
        return;
    }
    builtin(&e->tmp, s->fn, e->vals[i], e->job);
    put_value(e, e->tmp.p, e->tmp.len, false);
}

/* Whether segments [k, end) hold an expression of every value. */
static bool of_every_value(const cmd_tmpl *t, size_t k, size_t end)
{
    for (; k < end; k++)
        if (t->segs[k].type == SEG_EXPR && !t->segs[k].positional)
            return true;
    return false;
}

/* One segment, with value only of every-value expressions (-X's word
   repeated per value), or every value in turn when only < 0: emitted, or
   with req its perl requests appended at *m. */
static void visit(expand *e, const seg *s, long only, perl_req *req, size_t *m)
{
    if (s->type == SEG_LIT) {
        if (e->count)
            e->counted += s->len;
        else if (!req)
            tbuf_add(e->t->quote_words ? &e->group : e->out, e->t->text + s->off, s->len);
        return;
    }
    assert(s->type == SEG_EXPR);
    size_t from = 0, to = e->n;
    if (s->positional) {
        /* A position past the values stands for nothing (not '', as GNU
           parallel has it). */
        long i = pos_index(s->pos, e->n);
        if (i < 0)
            return;
        from = (size_t)i, to = (size_t)i + 1;
    } else if (only >= 0) {
        from = (size_t)only, to = (size_t)only + 1;
    }
    for (size_t i = from; i < to; i++) {
        if (req) {
            if (s->fn == FN_PERL)
                req[(*m)++] = (perl_req){ .val = i, .code = (size_t)s->code };
            continue;
        }
        if (i > from)
            end_word(e, false);
        put_expr(e, s, i);
    }
}

/* The whole line, word by word, in the order it uses its expressions:
   emitted, or (req) its perl requests collected, *m counting them. With
   job->context (-X), a word with an expression of every value is
   repeated for each value; else such an expression gives every value in
   turn, separated by spaces. */
static void walk(expand *e, perl_req *req, size_t *m)
{
    const cmd_tmpl *t = e->t;
    for (size_t k = 0; k < t->nseg;) {
        size_t end = k;
        while (end < t->nseg && t->segs[end].type != SEG_SEP)
            end++;
        bool ctx = e->job->context && of_every_value(t, k, end);
        size_t reps = ctx ? e->n : 1;
        const seg *one = &t->segs[k];
        if (e->count && end == k + 1 && one->type == SEG_EXPR && one->fn == FN_VAL &&
            !one->positional) {
            /* A word that is {} alone (-X's usual one) is every value,
               quoted, with a space between, in or out of context. */
            for (size_t i = 0; i < e->n; i++) {
                size_t len = strlen(e->vals[i]);
                e->counted += (t->quote_values ? shell_quote_len(e->vals[i], len) : len) + (i > 0);
            }
            reps = 0;
        }
        for (size_t r = 0; r < reps; r++) {
            if (r && !req)
                end_word(e, false);
            for (size_t j = k; j < end; j++)
                visit(e, &t->segs[j], ctx ? (long)r : -1, req, m);
        }
        if (end < t->nseg) {
            if (!req)
                end_word(e, false);
            end++;
        }
        k = end;
    }
    if (!req)
        end_word(e, true);
}

/* Every perl expression of the job, in the order the line uses them, in
   one round trip. */
static int eval_perl(expand *e, bool *skip)
{
    size_t nreq = 0;
    /* Count first: at most one request per expression and value, each word
       repeated at most once per value. */
    for (size_t k = 0; k < e->t->nseg; k++)
        if (e->t->segs[k].type == SEG_EXPR && e->t->segs[k].fn == FN_PERL)
            nreq += e->n;
    if (e->job->context)
        nreq *= e->n ? e->n : 1;
    perl_req *req = xmalloc((nreq + 1) * sizeof *req);
    size_t m = 0;
    walk(e, req, &m);
    assert(m <= nreq);
    e->pres = xmalloc((m + 1) * sizeof *e->pres);
    e->npres = m;
    cmd_job job = *e->job;
    job.vals = e->vals;
    job.nvals = e->n;
    int rc = perl_eval(&job, req, m, &e->pdata, e->pres, skip);
    free(req);
    return rc;
}

/* A job without values has one empty value, as in GNU parallel; but
   -N0's jobs have none at all. */
static void job_vals(expand *e)
{
    static char *const none[] = { "" };
    if (e->n == 0 && !e->job->novals) {
        e->vals = none;
        e->n = 1;
    }
}

size_t cmd_measure(const cmd_tmpl *t, tbuf *scratch, const cmd_job *job)
{
    if (t->perl || t->quote_words || quote_csh || quote_rc) {
        /* Perl's values, -q's quoting of whole words and (t)csh's and
           rc's quoting are known only once written. */
        (void)cmd_build(t, scratch, job);
        return scratch->len;
    }
    expand e = { .t = t, .job = job, .vals = job->vals, .n = job->nvals, .count = true };
    job_vals(&e);
    walk(&e, NULL, NULL);
    tbuf_free(&e.tmp);
    return e.counted;
}

int cmd_build(const cmd_tmpl *t, tbuf *out, const cmd_job *job)
{
    expand e = { .t = t, .job = job, .vals = job->vals, .n = job->nvals, .out = out };
    bool skip = false;
    int rc = 0;
    job_vals(&e);
    out->len = 0;
    if (t->perl && (rc = eval_perl(&e, &skip)) < 0)
        goto out;
    walk(&e, NULL, NULL);
    rc = skip;
out:
    tbuf_cstr(out);
    tbuf_free(&e.group);
    tbuf_free(&e.tmp);
    tbuf_free(&e.pdata);
    free(e.pres);
    return rc;
}

void cmd_shellquote_wrap(const cmd_tmpl *t, tbuf *line)
{
    if (t->shellquote <= 0)
        return;
    tbuf a = { 0 }, b = { 0 };
    tbuf_add(&a, line->p ? line->p : "", line->len);
    for (int k = 0; k < t->shellquote; k++) {
        b.len = 0;
        shell_quote_n(&b, a.p ? a.p : "", a.len);
        tbuf tmp = a;
        a = b;
        b = tmp;
    }
    /* What GNU parallel runs prints its one argument and a newline. */
    line->len = 0;
    tbuf_adds(line, "printf '%s\\n' ");
    shell_quote_n(line, a.p ? a.p : "", a.len);
    tbuf_free(&a);
    tbuf_free(&b);
}

void cmd_finish(void)
{
    perl_stop();
}

/* Characters that mean nothing special to sh anywhere in a word. */
static bool plain_char(unsigned char c)
{
    return quote_safe(c) || c == ',' || c == ':' || c == '@' || c == '%' || c == '=';
}

/* Keywords and builtins of dash and bash: a command starting with one runs
   inside the shell (or parses differently), so it keeps the shell. */
static const char *const shell_words[] = {
    "!", ".", ":", "[", "[[", "alias", "bg", "bind", "break", "builtin", "caller", "case",
    "cd", "chdir", "command", "compgen", "complete", "continue", "coproc", "declare", "dirs",
    "disown", "do", "done", "elif", "else", "enable", "esac", "eval", "exec", "exit", "export",
    "fc", "fg", "fi", "for", "function", "getopts", "hash", "help", "history", "if", "in",
    "jobs", "kill", "let", "local", "logout", "mapfile", "popd", "printf", "pushd", "pwd",
    "read", "readarray", "readonly", "return", "select", "set", "shift", "shopt", "source",
    "suspend", "test", "then", "time", "times", "trap", "type", "typeset", "ulimit", "umask",
    "unalias", "unset", "until", "wait", "while", NULL
};

size_t cmd_plain_argv(char *line, char **argv, size_t cap)
{
    /* A line of -X may be megabytes: one pass over it with a table checks
       its bytes and counts and checks its words, before it is split, so a
       refusal leaves line as it was. */
    static bool plain[256], plain_ready;
    if (!plain_ready) {
        for (int c = 0; c < 256; c++)
            plain[c] = plain_char((unsigned char)c);
        plain_ready = true;
    }
    size_t n = 0;
    const char *first = NULL;
    size_t first_len = 0;
    bool dash_arg = false;
    for (const unsigned char *p = (const unsigned char *)line;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const unsigned char *w = p;
        while (plain[*p])
            p++;
        if (*p && *p != ' ')
            return 0;
        size_t len = (size_t)(p - w);
        if (n == 0) {
            first = (const char *)w;
            first_len = len;
            if (memchr(w, '=', len)) /* an assignment */
                return 0;
        } else if (*w == '-') {
            dash_arg = true;
        } else if (*w == '=') {
            return 0; /* zsh expands =cmd to the path of cmd */
        }
        n++;
    }
    if (n == 0 || n + 1 > cap)
        return 0;
    for (size_t i = 0; shell_words[i]; i++)
        if (strlen(shell_words[i]) == first_len && !strncmp(first, shell_words[i], first_len))
            return 0;
    /* echo is a builtin whose options differ from /bin/echo's; true and
       false do the same either way. */
    if (first_len == 4 && !strncmp(first, "echo", 4) && dash_arg)
        return 0;
    size_t k = 0;
    for (char *p = line; *p;) {
        while (*p == ' ')
            *p++ = '\0';
        if (!*p)
            break;
        argv[k++] = p;
        while (*p && *p != ' ')
            p++;
    }
    argv[k] = NULL;
    return k;
}
