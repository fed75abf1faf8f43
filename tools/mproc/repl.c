/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* repl.c: the replacement-string table and the parsing of a command
 * template into literal text and expressions, as GNU parallel 20221122
 * does it.
 *
 * DESIGN. The table maps a tag to Perl code: GNU's seven defaults, its
 * --plus set, renamed by -I --er --bnr --dnr --bner --seqreplace
 * --slotreplace, extended or overridden by --rpl. A tag may hold one
 * parenthesised regular expression ({:(\d+?)} is {:3}); its captures
 * become $$1, $$2 in the code. Parsing follows GNU parallel's order, since
 * the order decides what a string means: the words are merged where a
 * {= =} spans several; {= code =} pairs are taken first (innermost
 * first); then each tag, longest first, is found in the remaining
 * literal text, then its positional form ({3.}, {-1/}) for a tag that
 * starts with '{'. An expression's code may start with a position
 * ({=2 code =}); after it, leading spaces are dropped. Tags are matched
 * with PCRE2 (Perl's syntax, /x and /s as GNU applies them).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "repl.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the table ------------------------------------------------------------------ */

typedef struct rpl {
    char *tag;
    char *code;
} rpl;

typedef struct table {
    rpl *v;
    size_t n;
} table;

/* GNU parallel's defaults and what computes each here. */
static const struct {
    const char *tag, *code;
    int fn;
} defaults[] = {
    { "{}", "", FN_VAL },
    { "{#}", "1 $_=$job->seq()", FN_SEQ },
    { "{%}", "1 $_=$job->slot()", FN_SLOT },
    { "{/}", "s:.*/::", FN_BASE },
    { "{//}", "$Global::use{\"File::Basename\"} ||= eval \"use File::Basename; 1;\"; "
              "$_ = dirname($_);", FN_DIR },
    { "{/.}", "s:.*/::; s:\\.[^/.]*$::;", FN_BASE_NOEXT },
    { "{.}", "s:\\.[^/.]*$::", FN_NOEXT },
};

/* --plus: GNU parallel's extra strings, Perl over $_ all of them. */
static const char *const plus[][2] = {
    { "{+/}", "s:/[^/]*$:: || s:.*$::" },
    { "{+.}", "s:.*\\.:: || s:.*$::" },
    { "{+..}", "s:.*\\.([^/.]*\\.[^/.]*)$:$1: || s:.*$::" },
    { "{+...}", "s:.*\\.([^/.]*\\.[^/.]*\\.[^/.]*)$:$1: || s:.*$::" },
    { "{..}", "s:\\.[^/.]*\\.[^/.]*$::" },
    { "{...}", "s:\\.[^/.]*\\.[^/.]*\\.[^/.]*$::" },
    { "{/..}", "s:.*/::; s:\\.[^/.]*\\.[^/.]*$::" },
    { "{/...}", "s:.*/::; s:\\.[^/.]*\\.[^/.]*\\.[^/.]*$::" },
    { "{choose_k}", "for $t (2..$#arg){ if($arg[$t-1] ge $arg[$t]) { skip() } }" },
    { "{uniq}", "if(::uniq(@arg) != @arg) { skip(); }" },
    { "{##}", "1 $_=total_jobs()" },
    { "{0%}", "1 $f=1+int((log($Global::max_jobs_running||1)/log(10)));"
              "$_=sprintf(\"%0${f}d\",slot())" },
    { "{0#}", "1 $f=1+int((log(total_jobs())/log(10)));$_=sprintf(\"%0${f}d\",seq())" },
    { "{:-([^}]+?)}", "$_ ||= $$1" },
    { "{:(\\d+?)}", "substr($_,0,$$1) = \"\"" },
    { "{:(\\d+?):(\\d+?)}", "$_ = substr($_,$$1,$$2);" },
    { "{#([^#}][^}]*?)}", "$nongreedy=::make_regexp_ungreedy($$1);s/^$nongreedy(.*)/$1/;" },
    { "{##([^#}][^}]*?)}", "s/^$$1//;" },
    { "{%([^}]+?)}", "$nongreedy=::make_regexp_ungreedy($$1);s/(.*)$nongreedy$/$1/;" },
    { "{%%([^}]+?)}", "s/$$1$//;" },
    { "{/([^#%}/]+?)/([^}]*?)}", "s/$$1/$$2/;" },
    { "{/#([^}]+?)/([^}]*?)}", "s/^$$1/$$2/g;" },
    { "{/%([^}]+?)/([^}]*?)}", "s/$$1$/$$2/g;" },
    { "{//([^}]+?)/([^}]*?)}", "s/$$1/$$2/g;" },
    { "{^([^}]+?)}", "s/^($$1)/uc($1)/e;" },
    { "{^^([^}]+?)}", "s/($$1)/uc($1)/eg;" },
    { "{,([^}]+?)}", "s/^($$1)/lc($1)/e;" },
    { "{,,([^}]+?)}", "s/($$1)/lc($1)/eg;" },
    { "{slot}", "1 $_=\"\\${PARALLEL_JOBSLOT}\";uq()" },
    { "{host}", "1 $_=\"\\${PARALLEL_SSHHOST}\";uq()" },
    { "{sshlogin}", "1 $_=\"\\${PARALLEL_SSHLOGIN}\";uq()" },
    { "{hgrp}", "1 $_=\"\\${PARALLEL_HOSTGROUPS}\";uq()" },
    { "{agrp}", "1 $_=\"\\${PARALLEL_ARGHOSTGROUPS}\";uq()" },
};

static rpl *table_find(table *t, const char *tag)
{
    for (size_t k = 0; k < t->n; k++)
        if (!strcmp(t->v[k].tag, tag))
            return &t->v[k];
    return NULL;
}

static void table_set(table *t, const char *tag, const char *code)
{
    rpl *r = table_find(t, tag);
    if (!r) {
        t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
        r = &t->v[t->n++];
        r->tag = xstrdup(tag);
    } else {
        free(r->code);
    }
    r->code = xstrdup(code);
}

/* Tag old is now called new; a missing old leaves new with no code, as
   GNU parallel's hash does. */
static void table_rename(table *t, const char *old, const char *new_)
{
    if (!strcmp(old, new_))
        return;
    rpl *o = table_find(t, old);
    char *code = xstrdup(o ? o->code : "");
    if (o) {
        free(o->tag);
        free(o->code);
        *o = t->v[--t->n];
    }
    table_set(t, new_, code);
    free(code);
}

static void table_free(table *t)
{
    for (size_t k = 0; k < t->n; k++) {
        free(t->v[k].tag);
        free(t->v[k].code);
    }
    free(t->v);
}

/* In GNU parallel's order: --plus, then the renames, then --rpl. */
static void table_build(table *t, const repl_opts *ro)
{
    if (ro->plus)
        for (size_t k = 0; k < sizeof plus / sizeof plus[0]; k++)
            table_set(t, plus[k][0], plus[k][1]);
    for (size_t k = 0; k < sizeof defaults / sizeof defaults[0]; k++)
        table_set(t, defaults[k].tag, defaults[k].code);
    if (ro->I)
        table_rename(t, "{}", ro->I);
    if (ro->i && *ro->i)
        table_rename(t, "{}", ro->i);
    if (ro->er)
        table_rename(t, "{.}", ro->er);
    if (ro->bnr)
        table_rename(t, "{/}", ro->bnr);
    if (ro->dnr)
        table_rename(t, "{//}", ro->dnr);
    if (ro->seqr)
        table_rename(t, "{#}", ro->seqr);
    if (ro->slotr)
        table_rename(t, "{%}", ro->slotr);
    if (ro->bner)
        table_rename(t, "{/.}", ro->bner);
    for (size_t k = 0; k < ro->nrpl; k++) {
        /* The tag ends at the first white space. */
        const char *s = ro->rpl[k];
        size_t tl = strcspn(s, " \t\n\r\f\v");
        char *tag = xmalloc(tl + 1);
        memcpy(tag, s, tl);
        tag[tl] = '\0';
        table_set(t, tag, s[tl] ? s + tl + 1 : "");
        free(tag);
    }
}

/* ---- a word as pieces: literal text and expressions ---------------------------- */

typedef struct piece {
    bool expr;
    char *s;            /* the text, or the expression's code */
    size_t len;
} piece;

typedef struct word {
    piece *p;
    size_t n;
} word;

static void word_push(word *w, size_t at, bool expr, const char *s, size_t len)
{
    w->p = xrealloc(w->p, (w->n + 1) * sizeof *w->p);
    memmove(w->p + at + 1, w->p + at, (w->n - at) * sizeof *w->p);
    w->n++;
    w->p[at].expr = expr;
    w->p[at].s = xmalloc(len + 1);
    memcpy(w->p[at].s, s, len);
    w->p[at].s[len] = '\0';
    w->p[at].len = len;
}

static void word_free(word *w)
{
    for (size_t k = 0; k < w->n; k++)
        free(w->p[k].s);
    free(w->p);
}

static const char *find(const char *s, size_t n, const char *pat, size_t pn)
{
    return pn ? memmem(s, n, pat, pn) : NULL;
}

/* Whether s still holds an opening paren once every matched pair is gone,
   each time the last opening that a closing follows (GNU's
   merge_rpl_parts). */
static bool unmatched_left(const char *s, size_t n, const char *l, const char *r)
{
    size_t ll = strlen(l), rl = strlen(r);
    char *b = xmalloc(n + 1);
    memcpy(b, s, n);
    bool again = true;
    while (again) {
        again = false;
        for (size_t k = n >= ll ? n - ll + 1 : 0; k-- > 0;) {
            if (memcmp(b + k, l, ll))
                continue;
            const char *c = find(b + k + ll, n - k - ll, r, rl);
            if (!c)
                continue;
            size_t end = (size_t)(c - b) + rl;
            memmove(b + k, b + end, n - end);
            n -= end - k;
            again = true;
            break;
        }
    }
    bool left = find(b, n, l, ll) != NULL;
    free(b);
    return left;
}

/* The parens pairs of one word, innermost first, become expressions. */
static void take_parens(word *w, const char *s, size_t n, const char *l, const char *r)
{
    size_t ll = strlen(l), rl = strlen(r), lit = 0, k = 0;
    while (k + ll <= n) {
        if (memcmp(s + k, l, ll)) {
            k++;
            continue;
        }
        size_t j = k + ll;
        bool found = false;
        while (j + rl <= n) {
            if (!memcmp(s + j, r, rl)) {
                found = true;
                break;
            }
            if (j + ll <= n && !memcmp(s + j, l, ll))
                break;
            j++;
        }
        if (!found) {
            k++;
            continue;
        }
        if (k > lit)
            word_push(w, w->n, false, s + lit, k - lit);
        word_push(w, w->n, true, s + k + ll, j - k - ll);
        k = lit = j + rl;
    }
    if (n > lit || w->n == 0)
        word_push(w, w->n, false, s + lit, n - lit);
}

/* quotemeta: every byte but [A-Za-z0-9_] escaped. */
static void add_quoted_re(tbuf *b, const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            tbuf_addc(b, '\\');
        tbuf_addc(b, (char)c);
    }
}

/* A tag and its compiled patterns, plain and positional. */
typedef struct tagre {
    const rpl *r;
    pcre2_code *plain, *posn;
} tagre;

/* Split a tag as GNU does: the text before the first '(', from there to
   the last ')' (the captures), the rest. */
static void split_tag(const char *tag, size_t *pre, size_t *grp)
{
    size_t n = strlen(tag);
    const char *open = strchr(tag, '(');
    const char *close = strrchr(tag, ')');
    *pre = open ? (size_t)(open - tag) : n;
    *grp = open && close && close > open ? (size_t)(close - open) + 1 : 0;
}

static pcre2_code *compile_re(const char *tag, const tbuf *pat)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat->p, pat->len,
                                   PCRE2_EXTENDED | PCRE2_DOTALL, &ec, &eo, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        fprintf(stderr, "mproc run: --rpl '%s': %s\n", tag, (char *)msg);
    }
    return re;
}

static int tagre_init(tagre *t, const rpl *r)
{
    size_t pre, grp;
    const char *tag = r->tag;
    split_tag(tag, &pre, &grp);
    size_t post = strlen(tag) - pre - grp;
    tbuf pat = { 0 };
    t->r = r;
    t->plain = t->posn = NULL;
    add_quoted_re(&pat, tag, pre);
    tbuf_add(&pat, tag + pre, grp);
    add_quoted_re(&pat, tag + pre + grp, post);
    t->plain = compile_re(tag, &pat);
    if (t->plain && tag[0] == '{') {
        pat.len = 0;
        tbuf_adds(&pat, "\\{(-?\\d+)\\s*");
        add_quoted_re(&pat, tag + 1, pre - (pre > 0));
        tbuf_add(&pat, tag + pre, grp);
        add_quoted_re(&pat, tag + pre + grp, post);
        t->posn = compile_re(tag, &pat);
    }
    tbuf_free(&pat);
    return t->plain && (tag[0] != '{' || t->posn) ? 0 : -1;
}

static void tagre_free(tagre *t)
{
    pcre2_code_free(t->plain);
    pcre2_code_free(t->posn);
}

/* The expression a match stands for: [position] then $_pAr_gRpN = "capture";
   for each capture, then the code with $$N naming them. */
static void match_code(tbuf *out, const rpl *r, const char *s, const PCRE2_SIZE *ov,
                       int nov, bool positional)
{
    uint32_t first = 1;
    if (positional) {
        tbuf_add(out, s + ov[2], ov[3] - ov[2]);
        first = 2;
    }
    for (uint32_t g = first; (int)g < nov && ov[2 * g] != PCRE2_UNSET; g++) {
        tbuf_addf(out, "$_pAr_gRp%u = \"", g - first + 1);
        for (PCRE2_SIZE k = ov[2 * g]; k < ov[2 * g + 1]; k++) {
            if (strchr("\\\"$@", s[k]) && s[k])
                tbuf_addc(out, '\\');
            tbuf_addc(out, s[k]);
        }
        tbuf_adds(out, "\";");
    }
    for (const char *c = r->code; *c;) {
        if (c[0] == '$' && c[1] == '$' && c[2] >= '0' && c[2] <= '9') {
            tbuf_adds(out, "$_pAr_gRp");
            c += 2;
            while (*c >= '0' && *c <= '9')
                tbuf_addc(out, *c++);
        } else {
            tbuf_addc(out, *c++);
        }
    }
}

/* Every match of re in the literal pieces of w becomes an expression. */
static void replace_tag(word *w, const rpl *r, pcre2_code *re, bool positional,
                        pcre2_match_data *md)
{
    tbuf code = { 0 };
    for (size_t k = 0; k < w->n; k++) {
        piece *p = &w->p[k];
        if (p->expr)
            continue;
        int rc = pcre2_match(re, (PCRE2_SPTR)p->s, p->len, 0, 0, md, NULL);
        if (rc <= 0)
            continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] <= ov[0])
            continue; /* an empty tag matches nothing */
        code.len = 0;
        match_code(&code, r, p->s, ov, rc, positional);
        /* The text after the match becomes a piece of its own, scanned
           next; the piece keeps the text before. */
        size_t start = ov[0], end = ov[1];
        word_push(w, k + 1, false, w->p[k].s + end, w->p[k].len - end);
        word_push(w, k + 1, true, tbuf_cstr(&code), code.len);
        w->p[k].s[start] = '\0';
        w->p[k].len = start;
        k++;
    }
    /* Empty literal pieces are dropped. */
    size_t m = 0;
    for (size_t k = 0; k < w->n; k++) {
        if (!w->p[k].expr && w->p[k].len == 0 && w->n > 1) {
            free(w->p[k].s);
            continue;
        }
        w->p[m++] = w->p[k];
    }
    w->n = m;
    tbuf_free(&code);
}

/* ---- the template ------------------------------------------------------------------ */

static void add_seg(cmd_tmpl *t, seg s, const char *text, size_t len)
{
    tbuf b = { .p = t->text, .len = t->textlen, .cap = t->textlen };
    s.off = b.len;
    s.len = len;
    tbuf_add(&b, text, len);
    tbuf_addc(&b, '\0');
    t->text = b.p;
    t->textlen = b.len;
    t->segs = xrealloc(t->segs, (t->nseg + 1) * sizeof *t->segs);
    t->segs[t->nseg++] = s;
}

/* The length of the -?[0-9]+ that c starts with; 0 when none. */
static size_t number_len(const char *c, size_t n)
{
    size_t k = n > 1 && c[0] == '-';
    size_t d = k;
    while (d < n && c[d] >= '0' && c[d] <= '9')
        d++;
    return d > k ? d : 0;
}

/* An expression's position and code, as GNU parallel reads them: leading
   digits (with a '-') are a position unless they are "0"; then a second
   optional number and spaces are dropped from the code. */
static void add_expr(cmd_tmpl *t, const char *c, size_t n)
{
    seg s = { .type = SEG_EXPR };
    size_t k = number_len(c, n);
    /* Perl's truth: "0" is false, "00" and "-0" are true (and name no
       value). */
    if (k && !(k == 1 && c[0] == '0')) {
        s.positional = true;
        char num[24];
        memcpy(num, c, k < sizeof num ? k : sizeof num - 1);
        num[k < sizeof num ? k : sizeof num - 1] = '\0';
        /* Past any real number of values, a position names none. */
        s.pos = k > 16 ? (c[0] == '-' ? -(1L << 40) : 1L << 40) : strtol(num, NULL, 10);
    }
    size_t j = k + number_len(c + k, n - k);
    while (j < n && c[j] == ' ')
        j++;
    c += j;
    n -= j;
    s.fn = FN_PERL;
    for (size_t d = 0; d < sizeof defaults / sizeof defaults[0]; d++) {
        /* The defaults' own leading "1 " was read as the position. */
        const char *dc = defaults[d].code;
        if (!strncmp(dc, "1 ", 2))
            dc += 2;
        if (strlen(dc) == n && !memcmp(dc, c, n))
            s.fn = defaults[d].fn;
    }
    if (s.fn == FN_PERL) {
        s.code = perl_code(c, n);
        t->perl = true;
        if (memmem(c, n, "total_jobs", 10))
            t->total = true;
    }
    add_seg(t, s, c, n);
}

/* Whether the values may be quoted: not when a replacement string is part
   of the command itself, what GNU tests as /^[^ \t\n=]*\257</ on the
   joined words. */
static bool values_quoted(const word *w)
{
    for (size_t k = 0; k < w->n; k++) {
        if (w->p[k].expr)
            return false;
        if (strcspn(w->p[k].s, " \t\n=") < w->p[k].len)
            return true;
    }
    return true;
}

static cmd_tmpl *parse(char *const *words, size_t nwords, const repl_opts *ro, bool as_tag)
{
    static const repl_opts none = { 0 };
    if (!ro)
        ro = &none;
    cmd_tmpl *t = xmalloc(sizeof *t);
    memset(t, 0, sizeof *t);
    table tab = { 0 };
    tagre *res = NULL;
    word *w = NULL;
    size_t nw = 0;
    bool ok = false;
    pcre2_match_data *md = NULL;

    const char *parens = ro->parens ? ro->parens : "{==}";
    size_t pl = strlen(parens) / 2;
    char *l = xmalloc(pl + 1), *r = xstrdup(parens + pl);
    memcpy(l, parens, pl);
    l[pl] = '\0';
    if (!*l || !*r) {
        fprintf(stderr, "mproc run: --parens '%s': needs a left and a right half\n", parens);
        goto out;
    }
    table_build(&tab, ro);
    /* Longest tags first; among equals, the table's order. */
    res = xmalloc((tab.n + 1) * sizeof *res);
    size_t nre = 0;
    for (size_t k = 0; k < tab.n; k++) {
        size_t at = nre;
        while (at > 0 && strlen(res[at - 1].r->tag) < strlen(tab.v[k].tag))
            at--;
        memmove(res + at + 1, res + at, (nre - at) * sizeof *res);
        nre++;
        if (tagre_init(&res[at], &tab.v[k]) < 0) {
            for (size_t j = 0; j < nre; j++)
                tagre_free(&res[j]);
            nre = 0;
            goto out;
        }
    }
    md = pcre2_match_data_create(32, NULL);
    if (!md)
        die_nomem();

    /* Words that leave a {= open are merged with the next, as GNU does. */
    w = xmalloc((nwords + 1) * sizeof *w);
    tbuf cur = { 0 };
    for (size_t k = 0; k < nwords;) {
        cur.len = 0;
        tbuf_adds(&cur, words[k++]);
        while (k < nwords && unmatched_left(cur.p, cur.len, l, r)) {
            tbuf_addc(&cur, ' ');
            tbuf_adds(&cur, words[k++]);
        }
        memset(&w[nw], 0, sizeof w[nw]);
        take_parens(&w[nw], tbuf_cstr(&cur), cur.len, l, r);
        for (size_t j = 0; j < nre; j++) {
            replace_tag(&w[nw], res[j].r, res[j].plain, false, md);
            if (res[j].posn)
                replace_tag(&w[nw], res[j].r, res[j].posn, true, md);
        }
        nw++;
    }
    tbuf_free(&cur);
    bool any = false;
    for (size_t k = 0; k < nw; k++)
        for (size_t j = 0; j < w[k].n; j++)
            any |= w[k].p[j].expr;
    if (!any && !as_tag && !ro->no_append) {
        /* GNU parallel appends the values as a word of their own. */
        memset(&w[nw], 0, sizeof w[nw]);
        word_push(&w[nw], 0, true, "", 0);
        nw++;
    }
    /* A --tagstring's values are as they are. */
    t->quote_values = !as_tag && values_quoted(&w[0]);
    t->quote_words = ro->quote;
    t->shellquote = ro->shellquote;
    for (size_t k = 0; k < nw; k++) {
        if (k)
            add_seg(t, (seg){ .type = SEG_SEP }, "", 0);
        for (size_t j = 0; j < w[k].n; j++) {
            piece *p = &w[k].p[j];
            if (p->expr)
                add_expr(t, p->s, p->len);
            else
                add_seg(t, (seg){ .type = SEG_LIT }, p->s, p->len);
        }
    }
    ok = true;
    for (size_t j = 0; j < nre; j++)
        tagre_free(&res[j]);
out:
    pcre2_match_data_free(md);
    for (size_t k = 0; k < nw; k++)
        word_free(&w[k]);
    free(w);
    free(res);
    table_free(&tab);
    free(l);
    free(r);
    if (!ok) {
        cmd_free(t);
        return NULL;
    }
    return t;
}

cmd_tmpl *cmd_parse(char *const *words, size_t nwords, const repl_opts *ro)
{
    return parse(words, nwords, ro, false);
}

cmd_tmpl *cmd_parse_tag(const char *s, const repl_opts *ro)
{
    char *words[] = { (char *)s };
    return parse(words, 1, ro, true);
}

void cmd_free(cmd_tmpl *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->segs);
    free(t);
}

bool cmd_wants_total(const cmd_tmpl *t)
{
    return t->total;
}
