/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* progress.c: --progress and --eta, the lines GNU parallel prints on stderr.
 *
 * DESIGN. GNU parallel 20221122's own format, for its one computer
 * ("local"): first the list of computers, then a header and a status line
 * that is redrawn (a carriage return before it) as jobs end, and once more
 * with a newline at the end. The status line is the widest of GNU's forms
 * that fits the terminal (80 columns without one). Times are counted in
 * whole seconds, as GNU parallel's are, so the averages are those it would
 * print. Nothing here runs in the loop's hot path unless asked for.
 */
#include "runloop.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static const char *const HEADERS[] = {
    "Computer:jobs running/jobs completed/%of started jobs/Average seconds to complete",
    "Computer:jobs running/jobs completed/%of started jobs",
    "Computer:jobs running/jobs completed",
    "Computer:jobs completed",
};

/* The terminal's width, as GNU parallel asks the controlling terminal (at
   most once a second, as it does); 80 without one. */
static int term_columns(progress *p)
{
    long now = (long)time(NULL);
    if (p->cols && p->cols_sec == now)
        return p->cols;
    p->cols_sec = now;
    int cols = 0;
    int fd = open("/dev/tty", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
        struct winsize ws;
        if (ioctl(fd, TIOCGWINSZ, &ws) == 0)
            cols = ws.ws_col;
        close(fd);
    }
    p->cols = cols > 0 ? cols : 80;
    return p->cols;
}

/* --eta's numbers, as GNU parallel's compute_eta smooths them. */
static void eta_compute(run *r, long *eta, size_t *left, double *avg)
{
    progress *p = &r->pg;
    size_t completed = p->completed;
    size_t total = r->total_gnu ? r->total_gnu : r->total;
    if (total < completed) /* as with -X, where GNU parallel counts fewer */
        total = completed;
    *left = total - completed;
    *eta = 0;
    *avg = 0;
    if (!completed)
        return;
    double pct = (double)completed / (double)total;
    long now = (long)time(NULL);
    if (!p->first_completed)
        p->first_completed = now;
    *avg = (double)(now - p->first_completed) / (double)completed;
    if (p->smoothed == 0)
        p->smoothed = *avg;
    p->smoothed = (1 - pct) * p->smoothed + pct * *avg;
    *eta = (long)((double)*left * p->smoothed);
    if (*eta * 0.90 < (double)p->last_eta && p->last_eta < *eta)
        *eta = p->last_eta; /* up by less than 10%: keep the last one */
    else
        p->last_eta = *eta;
}

/* The status line into buf (GNU's forms, widest first, the first that
   fits); returns the index of its header. */
static int status_line(run *r, char *buf, size_t cap)
{
    progress *p = &r->pg;
    char eta[96] = "";
    if (r->o.eta) {
        long e;
        size_t left;
        double avg;
        eta_compute(r, &e, &left, &avg);
        snprintf(eta, sizeof eta, "ETA: %lds Left: %zu AVG: %.2fs  ", e, left, avg);
    }
    size_t run_n = r->running, done = p->completed;
    /* GNU parallel truncates the percentage; with no job started yet its
       forms with one print the 0 it tested. */
    long pct = p->started ? (long)((double)(run_n + done) * 100 / (double)p->started) : 0;
    double secs = done ? (double)((long)time(NULL) - p->start_sec) / (double)done : 0;
    int cols = term_columns(p);
    int k;
    for (k = 0; k < 9; k++) {
        const char *who = k % 2 ? "1" : "local";
        int n;
        if (k < 4 && !p->started)
            n = snprintf(buf, cap, "%s0", eta);
        else if (k < 2)
            n = snprintf(buf, cap, "%s%s:%zu/%zu/%ld%%/%.1fs ", eta, who, run_n, done, pct, secs);
        else if (k < 4)
            n = snprintf(buf, cap, "%s%s:%zu/%zu/%ld%%", eta, who, run_n, done, pct);
        else if (k < 7)
            n = snprintf(buf, cap, "%s%s:%zu/%zu", eta, k == 6 ? "1" : "local", run_n, done);
        else
            n = snprintf(buf, cap, "%s%s:%zu", eta, k == 8 ? "1" : "local", done);
        if (n >= 0 && n <= cols)
            break;
    }
    if (k == 9)
        k = 8;
    return k == 0 ? 0 : k < 4 ? 1 : k < 7 ? 2 : 3;
}

static void put(const char *s)
{
    (void)write_all(2, s, strlen(s));
}

void progress_start(run *r, long max_jobs)
{
    if (!r->pg.on)
        return;
    r->pg.start_sec = (long)time(NULL);
    char line[160];
    snprintf(line, sizeof line, "\nComputers / CPU cores / Max jobs to run\n1:local / %ld / %ld\n",
             run_cpus(&r->o), max_jobs);
    put(line);
}

void progress_update(run *r, bool last)
{
    progress *p = &r->pg;
    /* Before the first job (--pipe waits for its first block) nothing
       is shown but the list, as in GNU parallel. */
    if (!p->on || (!last && !p->started))
        return;
    char line[512];
    line[0] = '\r';
    int h = status_line(r, line + 1, sizeof line - 2);
    if (!last && r->running > 0 && p->header != h + 1) {
        /* While jobs run, the header of the form shown, when it changes. */
        put("\n");
        put(HEADERS[h]);
        put("\n");
        p->header = h + 1;
    }
    if (last)
        strcat(line, "\n");
    put(line);
}
