/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* cmd.c: replacement strings, shell quoting and the final command line of a
 * job, with GNU parallel's meaning for each.
 *
 * DESIGN. The command words are joined with single spaces and parsed once
 * into a template: literal runs and replacement strings. A job's command
 * line is the template with each value transformed ({.} {/} ...), then
 * quoted for /bin/sh, so a value is always one word and never code. A
 * line that ends up as plain words (the common `true`, `gzip -9 file.txt`)
 * may be executed without the shell: cmd_plain_argv decides when that
 * cannot change what the job does, its output or its exit status.
 */
#include "tool.h"

#include <stdlib.h>
#include <string.h>

enum { SEG_LIT, SEG_VAL, SEG_SEQ, SEG_SLOT };

typedef struct seg {
    int type;
    size_t off, len; /* SEG_LIT: the text in t->text */
    size_t src;      /* SEG_VAL: 0 for all sources, else source N */
    int xf;          /* SEG_VAL: XF_* */
} seg;

struct cmd_tmpl {
    char *text;
    seg *segs;
    size_t nseg;
    size_t nsrc;
};

static void add_seg(cmd_tmpl *t, seg s)
{
    t->segs = xrealloc(t->segs, (t->nseg + 1) * sizeof *t->segs);
    t->segs[t->nseg++] = s;
}

/* Recognise a replacement string at p ('{'); returns its length, 0 when p
   starts none, and fills *s. */
static size_t match_repl(const char *p, seg *s)
{
    memset(s, 0, sizeof *s);
    if (p[1] == '#' && p[2] == '}') {
        s->type = SEG_SEQ;
        return 3;
    }
    if (p[1] == '%' && p[2] == '}') {
        s->type = SEG_SLOT;
        return 3;
    }
    const char *q = p + 1;
    size_t n = 0;
    bool digits = false;
    while (*q >= '0' && *q <= '9') {
        if (n < 1000000)
            n = n * 10 + (size_t)(*q - '0');
        digits = true;
        q++;
    }
    if (digits && n == 0)
        return 0;
    static const struct {
        const char *suffix;
        int xf;
    } forms[] = { { "}", XF_NONE }, { ".}", XF_NOEXT }, { "/}", XF_BASE },
                  { "//}", XF_DIR }, { "/.}", XF_BASE_NOEXT } };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        size_t k = strlen(forms[i].suffix);
        if (!strncmp(q, forms[i].suffix, k)) {
            s->type = SEG_VAL;
            s->src = n;
            s->xf = forms[i].xf;
            return (size_t)(q - p) + k;
        }
    }
    return 0;
}

cmd_tmpl *cmd_parse(const char *joined, size_t nsrc)
{
    cmd_tmpl *t = xmalloc(sizeof *t);
    memset(t, 0, sizeof *t);
    t->nsrc = nsrc;
    size_t jl = strlen(joined);
    t->text = xmalloc(jl + 1);
    memcpy(t->text, joined, jl + 1);
    bool any = false;
    size_t lit = 0, i = 0;
    while (i < jl) {
        seg s;
        size_t k = joined[i] == '{' ? match_repl(joined + i, &s) : 0;
        if (!k) {
            i++;
            continue;
        }
        if (i > lit)
            add_seg(t, (seg){ .type = SEG_LIT, .off = lit, .len = i - lit });
        add_seg(t, s);
        any = true;
        i += k;
        lit = i;
    }
    if (jl > lit)
        add_seg(t, (seg){ .type = SEG_LIT, .off = lit, .len = jl - lit });
    if (!any) {
        /* GNU parallel appends the values when the command names none. */
        t->text = xrealloc(t->text, jl + 2);
        t->text[jl] = ' ';
        t->text[jl + 1] = '\0';
        add_seg(t, (seg){ .type = SEG_LIT, .off = jl, .len = 1 });
        add_seg(t, (seg){ .type = SEG_VAL, .src = 0, .xf = XF_NONE });
    }
    return t;
}

void cmd_free(cmd_tmpl *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->segs);
    free(t);
}

static bool quote_safe(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '+' || c == '/';
}

void shell_quote(tbuf *out, const char *s)
{
    if (!*s) {
        tbuf_adds(out, "''");
        return;
    }
    const char *p = s;
    while (*p && quote_safe((unsigned char)*p))
        p++;
    if (!*p) {
        tbuf_adds(out, s);
        return;
    }
    /* 'text', with each ' written as '"'"'; a leading and a trailing empty
       '' are dropped, which gives exactly GNU parallel's quoting. */
    size_t start = out->len;
    tbuf_addc(out, '\'');
    for (p = s; *p; p++) {
        if (*p == '\'')
            tbuf_adds(out, "'\"'\"'");
        else
            tbuf_addc(out, *p);
    }
    tbuf_addc(out, '\'');
    if (out->len - start >= 2 && !strncmp(out->p + start, "''", 2)) {
        memmove(out->p + start, out->p + start + 2, out->len - start - 2);
        out->len -= 2;
    }
    if (out->len - start >= 2 && !strncmp(out->p + out->len - 2, "''", 2))
        out->len -= 2;
    tbuf_cstr(out);
}

/* The last '.' and what follows, when no '/' follows it: GNU parallel's
   extension, so ".hidden" has an empty name and "../x" none. */
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

void cmd_transform(tbuf *out, const char *v, int xf)
{
    size_t len = strlen(v);
    const char *slash = strrchr(v, '/');
    const char *base = slash ? slash + 1 : v;
    switch (xf) {
    case XF_NONE:
        tbuf_add(out, v, len);
        break;
    case XF_NOEXT:
        tbuf_add(out, v, noext_len(v, len));
        break;
    case XF_BASE:
        tbuf_adds(out, base);
        break;
    case XF_BASE_NOEXT:
        tbuf_add(out, base, noext_len(base, strlen(base)));
        break;
    case XF_DIR: {
        /* dirname(3) as Perl's File::Basename has it: "dir/" is in ".". */
        size_t n = len;
        while (n > 1 && v[n - 1] == '/')
            n--;
        if (n == 0) {
            tbuf_addc(out, '.');
            break;
        }
        if (n == 1 && v[0] == '/') {
            tbuf_addc(out, '/');
            break;
        }
        while (n > 0 && v[n - 1] != '/')
            n--;
        if (n == 0) {
            tbuf_addc(out, '.');
            break;
        }
        while (n > 1 && v[n - 1] == '/')
            n--;
        tbuf_add(out, v, n);
        break;
    }
    }
}

static void add_value(tbuf *out, const char *v, int xf, tbuf *tmp)
{
    if (xf == XF_NONE) {
        shell_quote(out, v);
        return;
    }
    tmp->len = 0;
    cmd_transform(tmp, v, xf);
    shell_quote(out, tbuf_cstr(tmp));
}

void cmd_build(const cmd_tmpl *t, tbuf *out, char *const *vals, size_t seq, int slot)
{
    tbuf tmp = {0};
    out->len = 0;
    for (size_t i = 0; i < t->nseg; i++) {
        const seg *s = &t->segs[i];
        switch (s->type) {
        case SEG_LIT:
            tbuf_add(out, t->text + s->off, s->len);
            break;
        case SEG_SEQ:
            tbuf_addf(out, "%zu", seq);
            break;
        case SEG_SLOT:
            tbuf_addf(out, "%d", slot);
            break;
        case SEG_VAL:
            if (s->src == 0) {
                for (size_t k = 0; k < t->nsrc; k++) {
                    if (k)
                        tbuf_addc(out, ' ');
                    add_value(out, vals[k], s->xf, &tmp);
                }
            } else if (s->src <= t->nsrc) {
                add_value(out, vals[s->src - 1], s->xf, &tmp);
            }
            /* {N} past the last source stands for nothing, as in GNU
               parallel. */
            break;
        }
    }
    tbuf_cstr(out);
    tbuf_free(&tmp);
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
    for (const char *p = line; *p; p++)
        if (*p != ' ' && !plain_char((unsigned char)*p))
            return 0;
    /* Count and check the words before splitting, so a refusal leaves line
       as it was. */
    size_t n = 0;
    const char *first = NULL;
    size_t first_len = 0;
    bool dash_arg = false;
    for (const char *p = line; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        if (n == 0) {
            first = w;
            first_len = (size_t)(p - w);
            if (memchr(w, '=', first_len)) /* an assignment */
                return 0;
        } else if (*w == '-') {
            dash_arg = true;
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
