/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* mpi_fwd.c: rank 0's forwarder, the seam between the pool and the hubs.
 *
 * DESIGN. The forwarder is a thread of rank 0 and a second consumer of the
 * pool's ring (pool_ext.h): it claims READY tasks exactly as a local worker
 * does, ships them to the hubs, and posts each outcome into the task's slot
 * as a worker would. Everything above the ring (results, callbacks, map
 * chunking, "exactly one outcome") is the pool's, unchanged. It claims a
 * task only for a hub with room in its window, so tasks it cannot place
 * stay in the ring for rank 0's own workers. All MPI calls of rank 0 are
 * made here; the thread polls with a back-off, never blocks in MPI.
 *
 * rank_timeout mode (under mpirun --enable-recovery, where a dead rank does
 * not end the job): a rank heard from neither an outcome nor a heartbeat
 * for rank_timeout is lost; the tasks it held fail with MPROC_ERANKLOST
 * (the forwarder knows which: it records the holder of every task it
 * sends) and it gets no more.
 *
 * Large payloads are not copied on rank 0: an argument is sent from its
 * arena mapping, a result received straight into the arena range the pool
 * then maps.
 */
#include "mpi_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct rank_state {
    unsigned inflight, window;
    unsigned workers;
    bool fixed;            /* the window was given: it does not adapt */
    double heard;          /* when it last sent anything (rank_timeout mode) */
    double lost_at;        /* when it was taken for lost */
    bool stopping, bye;    /* told STOP; answered BYE */
    mproc__buf batch;
    struct bigarg *bigs;   /* large arguments to send after the batch */
    size_t nbigs, capbigs;
} rank_state;

struct fwd;
typedef struct bigarg {
    struct fwd *f;
    void *map;
    uint64_t off;
    size_t len;
} bigarg;

typedef struct fwd {
    mproc_pool *pool;
    mproc__shared *sh;
    int arena_fd;
    MPI_Comm comm;
    int size;
    mproc__wire w;
    rank_state *ranks;      /* by rank; [0] unused */
    bool *lost;             /* by rank */
    uint16_t *holder;       /* by slot: the rank its task was sent to, or 0 */
    int rr;                 /* where the next task's search starts */
    mproc__objtab objs;
    uintptr_t last_fn;      /* a one-entry cache of the identity lookup */
    uint32_t last_obj;
    uint64_t last_off;
    bool lib_init;
    int *argc;
    char ***argv;
    mproc_mpi_opts o;
    int local_status, local_workers;
    /* start-up handshake with the creating thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started;
    int verdict;
    unsigned total_workers;
    _Atomic bool stop;
    _Atomic bool share_cpu; /* rank 0's CPUs run other work too */
    _Atomic int notify_fd;  /* mproc__mpi_notify's eventfd, or -1 */
    bool posted;            /* an outcome posted in this round */
    _Atomic unsigned drops; /* mproc__mpi_drop_waiting calls; sent: */
    unsigned dropped;
    pthread_t th;
    mproc__buf in;
} fwd;

static void big_done(const bigarg *b)
{
    mproc__arena_done(b->f->sh, b->map, b->off, b->len);
}

/* A large argument's send is over: its mapping goes. */
static void unmap_big(void *arg)
{
    big_done(arg);
    free(arg);
}

/* An outcome into the task's slot, for the owner to collect. */
static void post_outcome(fwd *f, uint64_t pos, int code, int detail, int sig)
{
    mproc__task_post(f->sh, pos, OWNER_EXT, code, detail, sig);
    f->posted = true;
}

/* The owner waiting in poll() is told (mproc__mpi_notify): its read, then
   its collect, sees every outcome settled before this write. */
static void tell_owner(fwd *f)
{
    int fd = atomic_load(&f->notify_fd);
    if (fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(fd, &one, sizeof one);
        (void)w; /* a counter far from overflowing: it only wakes */
    }
}

/* After a round that posted outcomes, once; a later post writes again. */
static void notify(fwd *f)
{
    if (!f->posted)
        return;
    f->posted = false;
    tell_owner(f);
}

static int flush_rank(fwd *f, int r)
{
    rank_state *rs = &f->ranks[r];
    if (rs->batch.len == 0)
        return 0;
    char *p = rs->batch.p;
    int err = mproc__wire_isend(&f->w, r, TAG_BATCH, p, rs->batch.len, free, p);
    rs->batch = (mproc__buf){ 0 };
    for (size_t i = 0; i < rs->nbigs && err == 0; i++) {
        bigarg *b = malloc(sizeof *b);
        if (!b)
            return -ENOMEM;
        *b = rs->bigs[i];
        err = mproc__wire_isend(&f->w, r, TAG_ARG, b->map, b->len, unmap_big, b);
    }
    rs->nbigs = 0;
    return err;
}

/* The function of a slot as (object, offset); false when no object loaded
   when the pool was made holds it. */
static bool ident(fwd *f, uint64_t fn, uint32_t *obj, uint64_t *off)
{
    if (fn == f->last_fn && fn) {
        *obj = f->last_obj;
        *off = f->last_off;
        return true;
    }
    if (!mproc__objtab_find(&f->objs, (uintptr_t)fn, obj, off))
        return false;
    f->last_fn = fn;
    f->last_obj = *obj;
    f->last_off = *off;
    return true;
}

/* Packs the claimed task at pos into rank r's batch. */
static int pack(fwd *f, int r, uint64_t pos)
{
    mproc__slot *s = mproc__slot_at(f->sh, pos);
    rank_state *rs = &f->ranks[r];
    wtask t = { .id = pos, .item_size = s->item_size, .count = s->count, .arg_len = s->arg_len,
                .kind = s->kind };
    if (!ident(f, s->fn, &t.obj, &t.off)) {
        s->res_len = 0;
        post_outcome(f, pos, -EFAULT, 0, 0);
        return 0;
    }
    size_t len = (size_t)t.arg_len;
    const void *arg = s->data;
    void *map = NULL;
    if (len > MPROC__INLINE) {
        map = mproc__arena_at(f->sh, f->arena_fd, s->arg_off, len, false);
        if (!map) {
            s->res_len = 0;
            post_outcome(f, pos, -ENOMEM, 0, 0);
            return 0;
        }
        arg = map;
    }
    int err = mproc__buf_put(&rs->batch, &t, sizeof t);
    if (err == 0 && len <= MPROC__MPI_BIG) {
        err = mproc__buf_put(&rs->batch, arg, len);
        if (err == 0)
            err = mproc__buf_pad(&rs->batch);
        if (map)
            mproc__arena_done(f->sh, map, s->arg_off, len);
    } else if (err == 0) {
        if (mproc__grow(&rs->bigs, &rs->capbigs, rs->nbigs + 1, sizeof *rs->bigs, 8) < 0)
            return -ENOMEM;
        rs->bigs[rs->nbigs++] = (bigarg){ .f = f, .map = map, .off = s->arg_off, .len = len };
    }
    rs->inflight++;
    f->holder[pos % MPROC__SLOTS] = (uint16_t)r;
    return err;
}

/* Claims tasks for every rank with room, round robin, and sends them. */
static bool dispatch(fwd *f)
{
    bool any = false;
    for (;;) {
        int r = 0;
        for (int k = 0; k < f->size - 1; k++) {
            int c = 1 + (f->rr + k) % (f->size - 1);
            if (!f->lost[c] && f->ranks[c].inflight < f->ranks[c].window) {
                r = c;
                break;
            }
        }
        if (r == 0)
            break;
        uint64_t pos;
        int c;
        while ((c = mproc__task_claim(f->sh, OWNER_EXT, &pos)) == -EAGAIN)
            ;
        if (c == 0)
            break;
        any = true;
        pack(f, r, pos);
        f->rr = r % (f->size - 1);
        if (f->ranks[r].batch.len >= MPROC__MPI_BATCH_BYTES || f->ranks[r].nbigs)
            flush_rank(f, r);
    }
    for (int r = 1; r < f->size; r++)
        flush_rank(f, r);
    return any;
}

/* The window starts at two tasks per worker, enough to hide a round trip
   when tasks take longer than one; it doubles whenever the rank says its
   workers were about to run dry (fewer tasks left there than workers)
   while tasks wait in the ring: short tasks then travel in batches large
   enough to keep it busy, and long ones are never hoarded by one rank
   while others have nothing to do. */
static void grow_window(fwd *f, rank_state *rs, bool starved)
{
    /* Past a few hundred tasks per worker a deeper window only makes the
       batches burstier (measured: 512 per worker beats 2048). */
    unsigned max = rs->workers < 8 ? 512 * rs->workers : 4096;
    if (rs->fixed || !starved || rs->window >= max)
        return;
    if (atomic_load(&f->sh->head) >= atomic_load(&f->sh->tail))
        return;
    rs->window = rs->window * 2 < max ? rs->window * 2 : max;
}

/* A DONE batch from rank r: each outcome into its slot (unless stopping:
   then the pool settles them, and large bytes are only drained). */
static void take_done(fwd *f, int r, size_t n, bool post)
{
    const char *p = f->in.p, *end = p + n;
    int32_t starved = 0;
    if (n >= sizeof(wdone))
        memcpy(&starved, p + offsetof(wdone, starved), sizeof starved);
    while (p + sizeof(wdone) <= end) {
        wdone d;
        memcpy(&d, p, sizeof d);
        p += sizeof d;
        size_t len = (size_t)d.res_len;
        const char *src = p;
        if (len <= MPROC__MPI_BIG)
            p += (len + 7) & ~(size_t)7;
        mproc__slot *s = mproc__slot_at(f->sh, d.id);
        /* Not ours any more when stopping, or when the rank was taken for
           lost (the slot may be another task's by now): drain only. */
        bool mine = post && f->holder[d.id % MPROC__SLOTS] == r;
        int code = d.code;
        void *dst = NULL;
        if (mine && len) {
            int err;
            dst = mproc__ext_result_begin(f->pool, s, len, &err);
            if (!dst)
                code = err;
        }
        if (len > MPROC__MPI_BIG) {
            void *tmp = dst ? NULL : malloc(len);
            if (!dst && !tmp)
                MPI_Abort(f->comm, 1); /* the bytes cannot even be drained */
            mproc__wire_recv(&f->w, r, TAG_RES, dst ? dst : tmp, len);
            free(tmp);
        } else if (dst) {
            memcpy(dst, src, len);
        }
        if (!mine)
            continue;
        f->holder[d.id % MPROC__SLOTS] = 0;
        if (dst) {
            mproc__ext_result_end(f->sh, dst, s);
        } else {
            s->res_len = 0;
            s->res_off = 0;
        }
        f->ranks[r].inflight--;
        post_outcome(f, d.id, code, d.detail, d.sig);
    }
    grow_window(f, &f->ranks[r], starved != 0);
}

/* Receives what has come (a BYE marks its rank). */
static void poll_in(fwd *f, bool post, bool *act)
{
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, f->comm, &flag, &st);
        if (!flag)
            break;
        *act = true;
        f->ranks[st.MPI_SOURCE].heard = mpi_now();
        int n = 0;
        MPI_Get_count(&st, MPI_BYTE, &n);
        f->in.len = 0;
        if (mproc__buf_put(&f->in, NULL, (size_t)n) < 0)
            MPI_Abort(f->comm, 1);
        MPI_Recv(f->in.p, n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, f->comm, MPI_STATUS_IGNORE);
        if (st.MPI_TAG == TAG_DONE)
            take_done(f, st.MPI_SOURCE, (size_t)n, post);
        else if (st.MPI_TAG == TAG_BYE)
            f->ranks[st.MPI_SOURCE].bye = true;
    }
}

/* rank_timeout mode: a rank silent too long is lost, and so are the
   tasks it held (posted as such unless stopping). */
static void check_lost(fwd *f, bool post)
{
    double t = mpi_now();
    for (int r = 1; r < f->size; r++) {
        if (f->lost[r] || t - f->ranks[r].heard < f->o.rank_timeout)
            continue;
        f->lost[r] = true;
        f->ranks[r].lost_at = t;
        for (unsigned i = 0; i < MPROC__SLOTS; i++) {
            if (f->holder[i] != r)
                continue;
            f->holder[i] = 0;
            if (!post)
                continue;
            mproc__slot *s = mproc__slot_at(f->sh, i);
            uint64_t pos = mproc__word_pos(atomic_load(&s->word));
            s->res_len = 0;
            s->res_off = 0;
            post_outcome(f, pos, MPROC_ERANKLOST, 0, 0);
        }
        f->ranks[r].inflight = 0;
    }
}

static void forward(fwd *f)
{
    mproc__backoff bo = { 0 };
    mproc__timer_slack();
    while (!atomic_load(&f->stop)) {
        /* Rank 0's own workers need the CPU this thread would poll on;
           whatever else it runs (mproc run --mpi's local jobs) even more:
           the hubs are sent enough ahead then to bear a slower poll. */
        bool share = atomic_load(&f->share_cpu);
        bo.spin = share ? 0 : f->local_workers > 0 ? MPROC__SPIN_SHORT : MPROC__SPIN_LONG;
        bool act = false;
        poll_in(f, true, &act);
        if (dispatch(f))
            act = true;
        if (mproc__wire_progress(&f->w))
            act = true;
        if (f->o.rank_timeout > 0)
            check_lost(f, true);
        unsigned drops = atomic_load(&f->drops);
        if (drops != f->dropped) {
            /* After every batch sent so far, which MPI delivers first. */
            f->dropped = drops;
            for (int r = 1; r < f->size; r++)
                if (!f->lost[r])
                    mproc__wire_isend(&f->w, r, TAG_DROP, NULL, 0, NULL, NULL);
            act = true;
        }
        notify(f);
        bool busy = mproc__wire_moving(&f->w);
        double s = mproc__backoff_busy(&bo, act, busy);
        mproc__nap(share && !busy ? MPROC__PACE : s);
    }
    /* Stopped: no slot is touched again. Every hub ends its pool and says
       goodbye once it has sent all it had; drain until then. */
    for (int r = 1; r < f->size; r++) {
        f->ranks[r].batch.len = 0;
        for (size_t i = 0; i < f->ranks[r].nbigs; i++)
            big_done(&f->ranks[r].bigs[i]);
        f->ranks[r].nbigs = 0;
    }
    for (;;) {
        bool act = false, waiting = false;
        poll_in(f, false, &act);
        if (f->o.rank_timeout > 0)
            check_lost(f, false);
        for (int r = 1; r < f->size; r++) {
            rank_state *rs = &f->ranks[r];
            /* A rank taken for lost that speaks again is alive after all
               (it was only slow): it must end too, and is waited for as
               long as it keeps speaking. One never heard again may be
               dead: nothing is sent to it. */
            bool alive = !f->lost[r] || rs->heard > rs->lost_at;
            if (alive && !rs->stopping) {
                rs->stopping = true;
                mproc__wire_isend(&f->w, r, TAG_STOP, NULL, 0, NULL, NULL);
                act = true;
            }
            bool silent = f->lost[r] && mpi_now() - rs->heard >= f->o.rank_timeout;
            waiting |= rs->stopping && !rs->bye && !silent;
        }
        if (mproc__wire_progress(&f->w))
            act = true;
        if (!waiting && !mproc__wire_busy(&f->w))
            break;
        mproc__nap(mproc__backoff_step(&bo, act));
    }
}

static void fwd_free(fwd *f)
{
    if (f->ranks)
        for (int r = 0; r < f->size; r++) {
            free(f->ranks[r].batch.p);
            free(f->ranks[r].bigs);
        }
    free(f->ranks);
    free(f->lost);
    free(f->holder);
    free(f->in.p);
    mproc__objtab_free(&f->objs);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

static void report(fwd *f, int verdict)
{
    pthread_mutex_lock(&f->mu);
    f->verdict = verdict;
    f->started = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void *fwd_main(void *arg)
{
    fwd *f = arg;
    int verdict = 0;
    if (f->lib_init) {
        int prov;
        MPI_Init_thread(f->argc, f->argv, MPI_THREAD_FUNNELED, &prov);
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &f->comm);
    MPI_Comm_size(f->comm, &f->size);
    f->w = (mproc__wire){ .comm = f->comm, .split = mproc__mpi_split_env() };
    mproc__mpi_start me = { .status = f->local_status, .workers = f->local_workers };
    int *workers = NULL;
    verdict = mproc__mpi_exchange(f->comm, &f->objs, &me, NULL, NULL, &workers);
    if (verdict == 0) {
        f->ranks = calloc((size_t)f->size, sizeof *f->ranks);
        f->lost = calloc((size_t)f->size, sizeof *f->lost);
        f->holder = calloc(MPROC__SLOTS, sizeof *f->holder);
        if (!f->ranks || !f->lost || !f->holder)
            MPI_Abort(f->comm, 1); /* the hubs already serve: none may be left waiting */
        f->w.lost = f->lost;
        unsigned total = f->local_workers > 0 ? (unsigned)f->local_workers : 0;
        for (int r = 1; r < f->size; r++) {
            unsigned w = workers[r] > 0 ? (unsigned)workers[r] : 1;
            f->ranks[r].workers = w;
            f->ranks[r].heard = mpi_now();
            f->ranks[r].fixed = f->o.window != 0;
            f->ranks[r].window = f->o.window ? f->o.window : 2 * w < 4096 ? 2 * w : 4096;
            total += w;
        }
        f->total_workers = total;
    }
    free(workers);
    report(f, verdict);
    if (verdict == 0)
        forward(f);
    mproc__wire_free(&f->w);
    MPI_Comm_free(&f->comm);
    if (f->lib_init)
        MPI_Finalize();
    return NULL;
}

static void fwd_stop(void *ctx)
{
    fwd *f = ctx;
    atomic_store(&f->stop, true);
    pthread_join(f->th, NULL);
    fwd_free(f);
}

int mproc__fwd_start(mproc_pool *pool, const mproc_mpi_opts *o, bool lib_init, int *argc,
                     char ***argv, int local_status, int local_workers, mproc__objtab *objs)
{
    fwd *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    atomic_store(&f->notify_fd, -1);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->pool = pool;
    if (pool)
        f->sh = mproc__pool_ring(pool, &f->arena_fd);
    f->o = *o;
    f->lib_init = lib_init;
    f->argc = argc;
    f->argv = argv;
    f->local_status = local_status;
    f->local_workers = local_workers;
    f->objs = *objs;
    *objs = (mproc__objtab){ 0 };
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&f->th, NULL, fwd_main, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        /* The other ranks wait in the exchange: MPI cannot be reached from
           here, so the job cannot end cleanly. */
        fwd_free(f);
        return -EAGAIN;
    }
    pthread_mutex_lock(&f->mu);
    while (!f->started)
        pthread_cond_wait(&f->cv, &f->mu);
    int verdict = f->verdict;
    pthread_mutex_unlock(&f->mu);
    if (verdict < 0) {
        pthread_join(f->th, NULL);
        fwd_free(f);
        return verdict;
    }
    mproc__pool_set_procs(pool, f->total_workers);
    mproc__pool_attach(pool, &(mproc__pool_ext){ .ctx = f, .stop = fwd_stop });
    return 0;
}

void mproc__mpi_drop_waiting(mproc_pool *pool)
{
    /* Those the forwarder has not claimed first, so that none of them is
       sent after the hubs are told. */
    mproc__pool_drop_waiting(pool);
    pthread_mutex_lock(&pool->mu);
    fwd *f = pool->has_ext ? pool->ext.ctx : NULL;
    if (f) {
        atomic_fetch_add(&f->drops, 1);
        /* Those dropped here ended in this thread, not in a round. */
        tell_owner(f);
    }
    pthread_mutex_unlock(&pool->mu);
}

void mproc__mpi_notify(mproc_pool *pool, int fd)
{
    pthread_mutex_lock(&pool->mu);
    fwd *f = pool->has_ext ? pool->ext.ctx : NULL;
    if (f)
        atomic_store(&f->notify_fd, fd);
    pthread_mutex_unlock(&pool->mu);
}

void mproc__mpi_share_cpu(mproc_pool *pool)
{
    pthread_mutex_lock(&pool->mu);
    fwd *f = pool->has_ext ? pool->ext.ctx : NULL;
    if (f)
        atomic_store(&f->share_cpu, true);
    pthread_mutex_unlock(&pool->mu);
}
