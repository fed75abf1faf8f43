/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* perl.c: the one perl coprocess that evaluates {= perl =} expressions.
 *
 * DESIGN. GNU parallel's {= =}, --rpl and --plus strings are Perl run with
 * $_ set to a value, so mproc hands them to perl itself: one `perl -e`
 * started at the first evaluation and kept for the whole run, so a run
 * pays one exec however many jobs it has. It speaks on one socket, its fd
 * 3 (a socket, so that a write to a perl that died comes back as EPIPE
 * with MSG_NOSIGNAL instead of a signal); its stdout and stderr are ours,
 * as they are GNU parallel's, so an expression that prints is seen.
 *
 * Every message is a list of fields, each a 4-byte big-endian length and
 * that many bytes, so newlines and NULs in values cannot desynchronise the
 * two sides. A request carries the code strings perl has not seen yet
 * (numbered in order), the job's sequence number, slot, total and slot
 * count, its values, and the evaluations wanted (value index, code id). The
 * reply is "ok", the skip flag and, per evaluation, "q" (quote it) or "u"
 * (uq() was called) and the value; or "err" and a message. Perl compiles a
 * code string at its first use, as GNU parallel does, so an expression
 * that is never evaluated is never an error.
 *
 * The child is reaped by perl_stop, which closes the socket (perl then
 * reads end of file and exits) and waits for it.
 */
#include "repl.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

extern char **environ;

/* What runs in perl: the protocol loop and GNU parallel's helpers, in the
   packages where GNU parallel's expressions find them (Arg for the
   expression, main for ::Q and friends, CommandLine for $job). */
static const char prelude[] =
    "use strict;\n"
    "$mproc::sh = shift(@ARGV) // 'sh';\n"
    "package main;\n"
    "sub shell_quote_scalar { my $s = $_[0]; return \"''\" if !defined $s || $s eq '';\n"
    /* (t)csh: a backslash before each special byte; rc: each run of them
       in '...'; as the command line's own quoting for them (cmd.c). */
    "  if ($mproc::sh eq 'rc') { $s =~ s/'/''/g;\n"
    "    $s =~ s/([\\x02-\\x1a\\x82-\\xff\\\\#?`(){}\\[\\]^*<=>~|; \"!\\$&']+)/'$1'/g; return $s }\n"
    "  if ($mproc::sh eq 'csh') { $s =~ s/([\\x02-\\x09\\x0b-\\x1a\\x82-\\xff\\\\#?`(){}\\[\\]^*<=>~|; \"!\\$&'])/\\\\$1/g;\n"
    "    $s =~ s/\\n/\"\\\\\\n\"/g; return $s }\n"
    "  return $s if $s !~ /[^-_.+a-zA-Z0-9\\/]/; $s =~ s/'/'\"'\"'/g; $s = \"'$s'\";\n"
    "  $s =~ s/^''//; $s =~ s/''$//; return $s }\n"
    "sub Q { shell_quote_scalar($_[0]) }\n"
    "sub shell_quote { wantarray ? (map { Q($_) } @_) : join ' ', map { Q($_) } @_ }\n"
    "sub perl_quote_scalar { my $s = $_[0]; $s =~ s/([\\\\\"\\$\\@])/\\\\$1/g if defined $s; $s }\n"
    "sub pQ { perl_quote_scalar($_[0]) }\n"
    "sub uniq { my %h = map { (defined $_ ? $_ : '') => 1 } @_; keys %h }\n"
    /* After each unescaped quantifier outside a class, a '?', unless one
       is there already. */
    "sub make_regexp_ungreedy { my ($re, $out, $cls, $esc, $q) = ($_[0], '', 0, 0, 0);\n"
    "  for my $c (split //, $re) { if ($q) { $out .= '?' if $c ne '?'; $q = 0 }\n"
    "    $out .= $c; if ($esc) { $esc = 0; next } if ($c eq '\\\\') { $esc = 1; next }\n"
    "    if ($cls) { $cls = 0 if $c eq ']'; next } if ($c eq '[') { $cls = 1; next }\n"
    "    $q = 1 if $c =~ /[*+}]/ }\n"
    "  $out .= '?' if $q; $out }\n"
    "package CommandLine;\n"
    "sub seq { $_[0]{seq} } sub slot { $_[0]{slot} } sub skip { $_[0]{skip} = 1 }\n"
    "package Arg;\n"
    "our ($mproc_job, $mproc_total);\n"
    "sub Q { ::Q($_[0]) } sub pQ { ::pQ($_[0]) }\n"
    "sub hash { $Global::use{B} ||= eval 'use B; 1;'; B::hash(@_) }\n"
    "sub total_jobs { $mproc_total } sub skip { $mproc_job->skip() }\n"
    "sub slot { $mproc_job->slot() } sub seq { $mproc_job->seq() }\n"
    "sub uq { $Global::unquote_arg = 1 }\n"
    "sub mproc_t { require POSIX; POSIX::strftime($_[0], localtime(time())) }\n"
    "sub yyyy_mm_dd_hh_mm_ss { mproc_t('%Y-%m-%dT%H:%M:%S') }\n"
    "sub yyyy_mm_dd_hh_mm { mproc_t('%Y-%m-%dT%H:%M') } sub yyyy_mm_dd { mproc_t('%Y-%m-%d') }\n"
    "sub hh_mm_ss { mproc_t('%H:%M:%S') } sub hh_mm { mproc_t('%H:%M') }\n"
    "sub yyyymmddhhmmss { mproc_t('%Y%m%d%H%M%S') } sub yyyymmddhhmm { mproc_t('%Y%m%d%H%M') }\n"
    "sub yyyymmdd { mproc_t('%Y%m%d') } sub hhmmss { mproc_t('%H%M%S') } sub hhmm { mproc_t('%H%M') }\n"
    /* Compiled here, before the loop's lexicals, so that an expression
       sees none of them. */
    "package mproc;\n"
    "sub compile { eval('package Arg; sub { no strict; no warnings; my $job = shift; ' . $_[0] . ' }') }\n"
    "open(my $io, '+<&=', 3) or die \"mproc perl: fd 3: $!\\n\"; binmode $io;\n"
    "sub rd { my ($n, $b) = ($_[0], ''); while (length($b) < $n) {\n"
    "    my $r = sysread($io, $b, $n - length($b), length($b));\n"
    "    next if !defined $r && $!{EINTR}; exit 0 if !$r } $b }\n"
    "sub fld { my $n = unpack('N', rd(4)); $n ? rd($n) : '' }\n"
    "sub reply { my $m = join '', map { my $v = defined $_ ? $_ : '';\n"
    "    utf8::encode($v) if utf8::is_utf8($v); pack('N', length $v) . $v } @_;\n"
    "  while (length $m) { my $w = syswrite($io, $m); if (!defined $w) { next if $!{EINTR}; exit 1 }\n"
    "    substr($m, 0, $w) = '' } }\n"
    "my (@code, @sub);\n"
    "for (;;) {\n"
    "  my $nd = fld(); push @code, fld() for 1 .. $nd;\n"
    "  my ($seq, $slot, $total, $nslots, $na) = map { fld() } 1 .. 5;\n"
    "  my @args = map { fld() } 1 .. $na; my $ne = fld();\n"
    "  my @ev = map { [fld(), fld()] } 1 .. $ne;\n"
    "  $Arg::mproc_job = bless { seq => $seq, slot => $slot, skip => 0 }, 'CommandLine';\n"
    "  $Arg::mproc_total = $total; $Global::max_jobs_running = $nslots;\n"
    "  local @Arg::arg = (undef, @args);\n"
    "  my (%val, %uq, @out, $err);\n"
    "  for my $e (@ev) { my ($ai, $ci) = @$e; my $k = \"$ai $ci\";\n"
    /* A false value is computed again, as GNU parallel's cache does. */
    "    if (!$val{$k}) {\n"
    "      if (!$sub[$ci]) { $sub[$ci] = compile($code[$ci]);\n"
    "        if (!$sub[$ci]) { $err = \"Cannot use $code[$ci]: $@\"; last } }\n"
    "      local $_ = $args[$ai]; $Global::unquote_arg = 0;\n"
    "      if (!eval { $sub[$ci]->($Arg::mproc_job); 1 }) { $err = $@ || \"died\\n\"; last }\n"
    "      $val{$k} = $_; $uq{$k} = 1 if $Global::unquote_arg; $Global::unquote_arg = 0 }\n"
    "    push @out, ($uq{$k} ? 'u' : 'q'), $val{$k} }\n"
    "  if (defined $err) { $err =~ s/\\s+\\z//; reply('err', $err) }\n"
    "  else { reply('ok', $Arg::mproc_job->{skip} ? 1 : 0, @out) }\n"
    "}\n";

/* The coprocess, one per tool run. */
static struct {
    pid_t pid;
    int fd;                 /* our end of the socket; -1 when not running */
    bool failed;            /* it could not be started, or died: no retry */
    char **code;            /* every code string, by id */
    size_t *code_len;
    size_t ncode, nsent;    /* registered; already sent to perl */
} co = { .pid = -1, .fd = -1 };

int perl_code(const char *code, size_t len)
{
    for (size_t i = 0; i < co.ncode; i++)
        if (co.code_len[i] == len && !memcmp(co.code[i], code, len))
            return (int)i;
    co.code = xrealloc(co.code, (co.ncode + 1) * sizeof *co.code);
    co.code_len = xrealloc(co.code_len, (co.ncode + 1) * sizeof *co.code_len);
    co.code[co.ncode] = xmalloc(len + 1);
    memcpy(co.code[co.ncode], code, len);
    co.code[co.ncode][len] = '\0';
    co.code_len[co.ncode] = len;
    return (int)co.ncode++;
}

/* A descriptor of ours above the ones the child's plan names, so that its
   dup2 onto 3 never meets a descriptor it also needs. */
static int move_high(int fd)
{
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    int err = nfd < 0 ? -errno : 0;
    close(fd);
    return err < 0 ? err : nfd;
}

static int start(void)
{
    int sv[2] = { -1, -1 };
    int err = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    bool fa_init = false, at_init = false;
    const char *perl = spawn_resolve("perl");
    if (!perl) {
        err = -ENOENT;
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        err = -errno;
        goto out;
    }
    if ((sv[1] = move_high(sv[1])) < 0) {
        err = sv[1];
        goto out;
    }
    if ((err = -posix_spawn_file_actions_init(&fa)) < 0)
        goto out;
    fa_init = true;
    if ((err = -posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) < 0 ||
        (err = -posix_spawn_file_actions_adddup2(&fa, sv[1], 3)) < 0)
        goto out;
    if ((err = -posix_spawnattr_init(&at)) < 0)
        goto out;
    at_init = true;
    /* The tool ignores SIGPIPE and may block its interrupts for a
       signalfd; perl gets neither. */
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGHUP);
    sigaddset(&dfl, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = { "perl", "-e", (char *)prelude, shell_quotes_csh() ? "csh" : shell_quotes_rc() ? "rc" : "sh",
                     NULL };
    pid_t pid;
    if ((err = -posix_spawn(&pid, perl, &fa, &at, argv, environ)) < 0)
        goto out;
    co.pid = pid;
    co.fd = sv[0];
    sv[0] = -1;
out:
    if (fa_init)
        posix_spawn_file_actions_destroy(&fa);
    if (at_init)
        posix_spawnattr_destroy(&at);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return err;
}

static void put_field(tbuf *b, const void *p, size_t n)
{
    assert(n <= UINT32_MAX);
    unsigned char h[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n };
    tbuf_add(b, h, 4);
    tbuf_add(b, p, n);
}

static void put_num(tbuf *b, unsigned long long v)
{
    char s[32];
    int n = snprintf(s, sizeof s, "%llu", v);
    put_field(b, s, (size_t)n);
}

/* write_all, but a perl that went away is EPIPE, never SIGPIPE (which a
   dry run does not ignore). */
static int send_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(co.fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* n bytes into b; -EPIPE at end of file. */
static int recv_all(tbuf *b, size_t n)
{
    tbuf_grow(b, n + 1);
    while (n > 0) {
        ssize_t r = read(co.fd, b->p + b->len, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -EPIPE;
        b->len += (size_t)r;
        n -= (size_t)r;
    }
    b->p[b->len] = '\0';
    return 0;
}

/* One field, appended to b; its offset and length in *off, *len. */
static int get_field(tbuf *b, size_t *off, size_t *len)
{
    size_t at = b->len;
    int err = recv_all(b, 4);
    if (err < 0)
        return err;
    const unsigned char *h = (const unsigned char *)b->p + at;
    size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    b->len = at;
    if ((err = recv_all(b, n)) < 0)
        return err;
    *off = at;
    *len = n;
    return 0;
}

static bool field_is(const tbuf *b, size_t off, size_t len, const char *s)
{
    return len == strlen(s) && !memcmp(b->p + off, s, len);
}

int perl_eval(const cmd_job *job, const perl_req *req, size_t nreq, tbuf *data,
              perl_res *res, bool *skip)
{
    int err = 0;
    tbuf msg = { 0 };
    if (co.failed)
        return -1;
    if (co.fd < 0 && (err = start()) < 0) {
        fprintf(stderr, "mproc run: cannot run perl: %s\n", strerror(-err));
        co.failed = true;
        return -1;
    }
    put_num(&msg, co.ncode - co.nsent);
    for (size_t i = co.nsent; i < co.ncode; i++)
        put_field(&msg, co.code[i], co.code_len[i]);
    put_num(&msg, job->seq);
    put_num(&msg, (unsigned long long)job->slot);
    put_num(&msg, job->total);
    put_num(&msg, (unsigned long long)job->nslots);
    put_num(&msg, job->nvals);
    for (size_t i = 0; i < job->nvals; i++)
        put_field(&msg, job->vals[i], strlen(job->vals[i]));
    put_num(&msg, nreq);
    for (size_t i = 0; i < nreq; i++) {
        assert(req[i].code < co.ncode && req[i].val < job->nvals);
        put_num(&msg, req[i].val);
        put_num(&msg, req[i].code);
    }
    if ((err = send_all(msg.p, msg.len)) < 0)
        goto out;
    co.nsent = co.ncode;
    data->len = 0;
    size_t off, len;
    if ((err = get_field(data, &off, &len)) < 0)
        goto out;
    if (field_is(data, off, len, "err")) {
        if ((err = get_field(data, &off, &len)) < 0)
            goto out;
        fprintf(stderr, "mproc run: %.*s\n", (int)len, data->p + off);
        err = -1;
        goto out;
    }
    if (!field_is(data, off, len, "ok") || (err = get_field(data, &off, &len)) < 0) {
        err = err < 0 ? err : -EPROTO;
        goto out;
    }
    *skip = field_is(data, off, len, "1");
    for (size_t i = 0; i < nreq; i++) {
        size_t foff, flen;
        if ((err = get_field(data, &foff, &flen)) < 0 || (err = get_field(data, &off, &len)) < 0)
            goto out;
        res[i].unquoted = field_is(data, foff, flen, "u");
        res[i].off = off;
        res[i].len = len;
    }
out:
    tbuf_free(&msg);
    if (err < -1) {
        fprintf(stderr, "mproc run: perl: %s\n",
                err == -EPIPE ? "exited before answering" : strerror(-err));
        co.failed = true;
        err = -1;
    }
    return err;
}

void perl_stop(void)
{
    if (co.fd >= 0) {
        close(co.fd);
        co.fd = -1;
    }
    if (co.pid > 0) {
        while (waitpid(co.pid, NULL, 0) < 0 && errno == EINTR)
            ;
        co.pid = -1;
    }
    for (size_t i = 0; i < co.ncode; i++)
        free(co.code[i]);
    free(co.code);
    free(co.code_len);
    co.code = NULL;
    co.code_len = NULL;
    co.ncode = co.nsent = 0;
    co.failed = false;
}
