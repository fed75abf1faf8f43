/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* pool_collect.c: moving outcomes from the ring into result objects, and
 * how an owner thread waits for them (spin, then the done_seq futex). */
#include "pool_internal.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- collecting outcomes ---------------------------------------------------- */

static void free_slot(mproc_pool *p, uint64_t pos, mproc__slot *s)
{
    p->inflight[pos % MPROC__SLOTS] = NULL;
    p->ninflight--;
    atomic_store(&s->word, mproc__word(pos, 0, SLOT_FREE));
}

static void finish(mproc_pool *p, uint64_t pos, mproc__slot *s)
{
    mproc_result *r = p->inflight[pos % MPROC__SLOTS];
    int code = s->code;
    r->code = code;
    r->detail = s->detail;
    r->sig = s->sig;
    size_t len = (size_t)s->res_len;
    bool wanted = (code == 0 || code == MPROC_ETASK) && !atomic_load(&r->user_freed);
    if (s->arg_kept) {
        /* The argument's extent is its worker place's now (ring.h). */
        r->arg_len = 0;
        r->swap = true;
    }
    if (s->res_is_arg) {
        /* The result is the argument, in its extent: freed as a result
           (a one-off, back to the owner's lists), not as an argument. */
        r->arg_len = 0;
    }
    if (len > MPROC__INLINE) {
        /* A large result stays in the extent the task wrote it into,
           without a copy, until the result is freed; then the extent goes
           back to its worker (or, a one-off, to the owner's lists). */
        r->in_arena = true;
        r->off = s->res_off;
        r->len = len;
        r->ext = s->res_ext;
        r->res_huge = s->res_huge;
        r->ext_place = mproc__word_owner(atomic_load(&s->word)) - 1;
        r->unmap = !mproc__arena_in_window(p->sh, r->off, mproc__res_span(len));
        if (wanted) {
            r->data = mproc__arena_at(p->sh, p->arena_fd, r->off, mproc__res_span(len), false);
            if (!r->data)
                r->code = -ENOMEM;
        }
        if (!wanted || !r->data)
            mproc__result_release_bytes(p, r);
    } else if (wanted && len) {
        r->data = malloc(len + 1);
        if (r->data) {
            memcpy(r->data, s->data, len);
            ((char *)r->data)[len] = 0;
            r->len = len;
        } else {
            r->code = -ENOMEM;
        }
    }
    mproc__pool_unstage_arg(p, r);
    free_slot(p, pos, s);
    mproc__result_settle(p, r);
}

/* Moves every published outcome into its result. Mutex held. */
void mproc__pool_collect(mproc_pool *p)
{
    mproc__shared *sh = p->sh;
    if (!sh || p->ninflight == 0)
        return;
    uint32_t seq = atomic_load(&sh->done_seq);
    if ((int32_t)(seq - p->collected) <= 0)
        return;
    uint64_t pos;
    for (pos = p->coll; pos < p->tail && (int32_t)(seq - p->collected) > 0; pos++) {
        if (!p->inflight[pos % MPROC__SLOTS])
            continue;
        mproc__slot *s = mproc__slot_at(sh, pos);
        uint64_t v = atomic_load(&s->word);
        if (mproc__word_state(v) == SLOT_DONE && mproc__word_pos(v) == pos) {
            finish(p, pos, s);
            p->collected++;
        }
    }
    /* The whole window seen and fewer outcomes found than counted (the
       supervisor counts once more after each worker death): every outcome
       counted up to seq is collected. */
    if (pos >= p->tail && (int32_t)(seq - p->collected) > 0)
        p->collected = seq;
    while (p->coll < p->tail && !p->inflight[p->coll % MPROC__SLOTS])
        p->coll++;
}

/* The outcome of a task at pos (slot word v) that the supervisor, killed
   from outside, left behind: a task a worker was running ends as that
   worker did (killed by its death signal); one that never started ends
   -EPIPE. The take decides against a worker that is claiming it now. */
static int lost_outcome(mproc_pool *p, uint64_t pos, uint64_t v, int *sig)
{
    if (mproc__word_state(v) == SLOT_READY && mproc__task_take(p->sh, pos, OWNER_SUP))
        return -EPIPE;
    v = atomic_load(&mproc__slot_at(p->sh, pos)->word);
    unsigned owner = mproc__word_owner(v);
    if (mproc__word_state(v) != SLOT_RUNNING || owner == 0 || owner > p->nprocs)
        return -EPIPE;
    *sig = p->lost_sig[owner - 1] ? p->lost_sig[owner - 1] : SIGKILL;
    return MPROC_EWORKER;
}

/* Ends every task still in flight with code (0: as lost_outcome says),
   without a worker. Used once no worker and no supervisor is left. Mutex
   held. */
void mproc__pool_settle_all(mproc_pool *p, int code)
{
    for (uint64_t pos = p->coll; pos < p->tail; pos++) {
        mproc_result *r = p->inflight[pos % MPROC__SLOTS];
        if (!r)
            continue;
        mproc__slot *s = mproc__slot_at(p->sh, pos);
        uint64_t v = atomic_load(&s->word);
        if (mproc__word_state(v) == SLOT_DONE && mproc__word_pos(v) == pos) {
            finish(p, pos, s);
            continue;
        }
        /* No worker is left to finish it: its argument's extent is free;
           a result extent it was writing is its dead place's, never used
           again. */
        if (s->arg_kept)
            r->arg_len = 0; /* a dead worker's place has it, or nobody */
        mproc__pool_unstage_arg(p, r);
        r->sig = 0;
        r->code = code ? code : lost_outcome(p, pos, v, &r->sig);
        free_slot(p, pos, s);
        mproc__result_settle(p, r);
    }
    p->coll = p->tail;
    p->collected = atomic_load(&p->sh->done_seq);
}

/* Wake every owner thread sleeping on the shared futex. */
void mproc__pool_wake_owners(mproc_pool *p)
{
    atomic_fetch_add(&p->sh->done_seq, 1);
    p->collected++;
    mproc__futex_wake(&p->sh->done_seq, INT_MAX);
}

/* A supervisor that ends on its own has reaped every worker (and cleared
   its pid). One killed from outside leaves workers that its death signal
   kills; they are reparented to the nearest subreaper, and when that is
   the owner they are its children now: reaped here, or they would stay
   zombies. The signal each died of goes to lost_sig. Not our children
   (ECHILD): init reaps them. */
static void reap_orphans(mproc_pool *p)
{
    if (!p->sh)
        return;
    for (unsigned i = 0; i < p->nprocs; i++) {
        pid_t pid = atomic_load(&p->sh->w[i].pid);
        atomic_store(&p->sh->w[i].pid, 0);
        /* A pid the supervisor reaped just before it died may name another
           process by now: wait only for a child of ours that is one of the
           pool's (a worker, or a worker not yet named one). */
        mproc_procinfo info;
        if (pid <= 0 || mproc__child_is_owned(pid) || mproc_procinfo_get(pid, &info) < 0 ||
            info.ppid != getpid() ||
            (strcmp(info.name, "mproc-worker") != 0 && strcmp(info.name, "mproc-pool") != 0))
            continue;
        int st;
        pid_t r;
        while ((r = waitpid(pid, &st, __WALL)) < 0 && errno == EINTR)
            ;
        if (r == pid && WIFSIGNALED(st))
            p->lost_sig[i] = WTERMSIG(st);
    }
}

void mproc__pool_reap_supervisor(mproc_pool *p, bool block)
{
    if (p->sup_reaped)
        return;
    int st;
    pid_t r;
    while ((r = waitpid(p->sup_pid, &st, block ? 0 : WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r == p->sup_pid || (r < 0 && errno == ECHILD)) {
        p->sup_reaped = true;
        mproc__child_disown(p->sup_pid);
        reap_orphans(p);
    }
}

/* Notices a supervisor killed from outside: its workers died with it (they
   hold PR_SET_PDEATHSIG), so what is in flight can never finish. */
static void check_supervisor(mproc_pool *p)
{
    if (p->sup_reaped || p->state == P_TERMINATED)
        return;
    mproc__pool_reap_supervisor(p, false);
    if (!p->sup_reaped)
        return;
    mproc__pool_stop_ext(p);
    mproc__pool_collect(p);
    if (!atomic_load(&p->sh->broken))
        p->lost = true;
    mproc__pool_settle_all(p, atomic_load(&p->sh->broken) ? MPROC_EINIT : 0);
    mproc__pool_wake_owners(p);
}

/* Waits (mutex held, released meanwhile) until an outcome may be there to
   collect, the deadline passes, or a while has gone by. */
void mproc__pool_wait_progress(mproc_pool *p, double deadline)
{
    mproc__shared *sh = p->sh;
    uint32_t seq = atomic_load(&sh->done_seq);
    if ((int32_t)(seq - p->collected) > 0)
        return;
    p->local_sleepers++;
    pthread_mutex_unlock(&p->mu);
    double now = mproc__now(), start = now;
    double spin = atomic_load(&p->spin);
    double spin_end = now + spin;
    bool moved = false;
    for (unsigned i = 1; !moved; i++) {
        if (atomic_load(&sh->done_seq) != seq)
            moved = true;
        else if ((i & 63) == 0 && (now = mproc__now()) >= spin_end)
            break;
        else if ((i & 63) == 0)
            sched_yield(); /* as a polling worker does (pool_worker.c, claim) */
        else
            mproc__cpu_relax();
    }
    if (!moved && now < deadline) {
        double until = now + SUP_CHECK < deadline ? now + SUP_CHECK : deadline;
        atomic_store(&sh->done_wake, 1);
        if (atomic_load(&sh->done_seq) == seq)
            mproc__futex_wait(&sh->done_seq, seq, until);
    }
    /* Would the longest poll have caught the outcome? Then poll long; else
       poll less. (Not under the mutex: a lost update only nudges a
       heuristic.) */
    if (atomic_load(&sh->done_seq) != seq && mproc__now() - start <= OWNER_SPIN_MAX)
        atomic_store(&p->spin, OWNER_SPIN_MAX);
    else
        atomic_store(&p->spin, spin / 2 > OWNER_SPIN_MIN ? spin / 2 : OWNER_SPIN_MIN);
    pthread_mutex_lock(&p->mu);
    if (--p->local_sleepers == 0)
        pthread_cond_broadcast(&p->cv);
    if (!moved && mproc__now() >= p->next_sup_check) {
        p->next_sup_check = mproc__now() + SUP_CHECK;
        check_supervisor(p);
    }
}
