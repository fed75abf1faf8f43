/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* repl_expand.c: fuzz the replacement-string engine: options, command
   words and values from the input, parsed and expanded for two jobs.
   fuzz-sources: tools/mproc/repl.c tools/mproc/cmd.c tools/mproc/tbuf.c
   fuzz-options: -max_len=4096

   Input: a flags byte, then fields separated by 0x01: the -I string, the
   --rpl definition and the --parens string when the flags ask for them,
   then the command words up to an empty field, then the values. The perl
   coprocess is replaced by a stand-in that answers with bytes of the
   expression and the value (NULs and newlines included), so every path of
   the expansion runs without perl. Oracles: building is deterministic, and
   a value quoted for the shell unquotes back to itself. */
#include "repl.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the stand-in for perl.c ---------------------------------------------- */

static char **codes;
static size_t ncodes;

int perl_code(const char *code, size_t len)
{
    codes = xrealloc(codes, (ncodes + 1) * sizeof *codes);
    codes[ncodes] = xmalloc(len + 1);
    memcpy(codes[ncodes], code, len);
    codes[ncodes][len] = '\0';
    return (int)ncodes++;
}

int perl_eval(const cmd_job *job, const perl_req *req, size_t nreq, tbuf *data, perl_res *res,
              bool *skip)
{
    data->len = 0;
    *skip = false;
    for (size_t i = 0; i < nreq; i++) {
        assert(req[i].code < ncodes && req[i].val < job->nvals);
        const char *c = codes[req[i].code];
        res[i].off = data->len;
        tbuf_add(data, c, strlen(c) % 7);
        tbuf_addc(data, '\0');
        tbuf_adds(data, job->vals[req[i].val]);
        res[i].len = data->len - res[i].off;
        res[i].unquoted = c[0] & 1;
        *skip |= c[0] == 's';
        if (c[0] == '!')
            return -1;
    }
    return 0;
}

void perl_stop(void)
{
    for (size_t i = 0; i < ncodes; i++)
        free(codes[i]);
    free(codes);
    codes = NULL;
    ncodes = 0;
}

/* ---- the oracle of shell quoting ------------------------------------------------ */

/* What sh makes of our quoting: '...' literal, "'" a quote, else bytes. */
static void sh_unquote(tbuf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char end = s[i] == '\'' ? '\'' : s[i] == '"' ? '"' : 0;
        if (!end) {
            tbuf_addc(out, s[i]);
            continue;
        }
        for (i++; i < n && s[i] != end; i++)
            tbuf_addc(out, s[i]);
        assert(i < n);
    }
}

static void check_quote(const char *v)
{
    tbuf q = { 0 }, u = { 0 };
    shell_quote(&q, v);
    sh_unquote(&u, q.p, q.len);
    assert(u.len == strlen(v) && (!u.len || !memcmp(u.p, v, u.len)));
    tbuf_free(&q);
    tbuf_free(&u);
}

/* ---- the target ------------------------------------------------------------------- */

/* The next field of [*p, end), as a new string; NULL past the end. */
static char *next_field(const uint8_t **p, const uint8_t *end)
{
    if (*p > end)
        return NULL;
    const uint8_t *f = memchr(*p, 1, (size_t)(end - *p));
    size_t n = f ? (size_t)(f - *p) : (size_t)(end - *p);
    char *s = xmalloc(n + 1);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += n + 1;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    char *owned[64];
    size_t nowned = 0;
    repl_opts ro = { .plus = flags & 1, .quote = flags & 2, .shellquote = (flags >> 6) & 1 };
    const char *rpl[1];
    if (flags & 4)
        ro.I = owned[nowned++] = next_field(&p, end);
    if (flags & 8) {
        rpl[0] = owned[nowned++] = next_field(&p, end);
        if (rpl[0]) {
            ro.rpl = rpl;
            ro.nrpl = 1;
        }
    }
    if (flags & 16)
        ro.parens = owned[nowned++] = next_field(&p, end);
    if ((ro.I && !*ro.I) || (ro.parens && !*ro.parens))
        goto out;
    char *words[16], *vals[16];
    size_t nw = 0, nv = 0;
    for (char *w; nw < 16 && (w = next_field(&p, end));) {
        owned[nowned++] = w;
        if (!*w)
            break;
        words[nw++] = w;
    }
    for (char *v; nv < 16 && (v = next_field(&p, end));) {
        owned[nowned++] = v;
        vals[nv++] = v;
        check_quote(v);
    }
    cmd_tmpl *t = cmd_parse(words, nw, &ro);
    if (t) {
        tbuf a = { 0 }, b = { 0 };
        cmd_job job = { .vals = vals, .nvals = nv, .seq = 7, .slot = 2, .total = 9,
                        .nslots = 3 };
        int ra = cmd_build(t, &a, &job);
        int rb = cmd_build(t, &b, &job);
        assert(ra == rb && a.len == b.len && (!a.len || !memcmp(a.p, b.p, a.len)));
        if (ra >= 0) {
            char *argv[65];
            char *line = xmalloc(a.len + 1);
            memcpy(line, a.p ? a.p : "", a.len);
            line[a.len] = '\0';
            (void)cmd_plain_argv(line, argv, 65);
            free(line);
            cmd_shellquote_wrap(t, &a);
            assert(a.len == 0 || a.p[a.len] == '\0');
        }
        (void)cmd_wants_total(t);
        tbuf_free(&a);
        tbuf_free(&b);
        cmd_free(t);
    }
out:
    perl_stop();
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    return 0;
}
