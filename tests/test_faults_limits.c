/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* test_faults_limits.c: every public constructor under the process's
 * limits (no free descriptor, then a few; no process slot for the uid;
 * little address space): each either works, object and all, or returns a
 * clear negative errno, and nothing is leaked (the harness checks
 * descriptors, children and /dev/shm after each case). */
#include "test_ipc_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>

/* ---- the constructors, each made, used once and freed --------------------- */

static int exit7(void *arg)
{
    (void)arg;
    return 7;
}

static int process_with(bool daemon)
{
    mproc_process *p = NULL;
    mproc_process_opts o = { .daemon = daemon };
    int r = mproc_process_new(&p, exit7, NULL, &o);
    if (r < 0)
        return r;
    r = mproc_process_start(p);
    if (r == 0) {
        int code = -1;
        int j = mproc_process_join(p, 30), e = mproc_process_exitcode(p, &code);
        if (j != 0 || e != 1 || code != 7) {
            fprintf(stderr, "join %d exitcode %d code %d\n", j, e, code);
            r = -EPROTO; /* started, but the target never ran */
        }
    }
    mproc_process_free(p);
    return r;
}

static int c_process(void)
{
    return process_with(false);
}

static int c_daemon(void)
{
    return process_with(true);
}

static int square(const void *arg, size_t len, mproc_out *out)
{
    (void)len;
    int v = *(const int *)arg * *(const int *)arg;
    return mproc_out_write(out, &v, sizeof v);
}

static int c_pool(void)
{
    mproc_pool *pool = NULL;
    mproc_pool_opts o = { .processes = 2 };
    int r = mproc_pool_new(&pool, &o);
    if (r < 0)
        return r;
    int x = 9;
    void *data = NULL;
    size_t len = 0;
    r = mproc_pool_apply(pool, square, &x, sizeof x, &data, &len);
    if (r == 0 && (len != sizeof(int) || *(int *)data != 81))
        r = -EPROTO;
    free(data);
    mproc_pool_close(pool);
    mproc_pool_join(pool);
    mproc_pool_free(pool);
    return r;
}

static int queue_with(const char *name)
{
    mproc_queue *q = NULL;
    mproc_queue_opts o = { .name = name, .bytes = 1 << 20 };
    int r = mproc_queue_new(&q, &o);
    if (r < 0)
        return r;
    if (name)
        mproc_queue_unlink(name);
    r = mproc_queue_put(q, "hello", 5, 0);
    char buf[8];
    size_t len = 0;
    if (r == 0)
        r = mproc_queue_get(q, buf, sizeof buf, &len, 0);
    if (r == 0 && (len != 5 || memcmp(buf, "hello", 5)))
        r = -EPROTO;
    mproc_queue_free(q);
    return r;
}

/* A name of this test process's own ("mproc-test-limits-WHAT-PID"), so the
   leak check of a test program running beside this one under ctest -j never
   takes the block for its own (harness.c, own_shm_name). */
static const char *limits_name(const char *what)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "mproc-test-limits-%s-%ld", what, (long)getpid());
    return buf;
}

static int c_queue(void)
{
    return queue_with(NULL);
}

static int c_named_queue(void)
{
    return queue_with(limits_name("q"));
}

static int c_pipe(void)
{
    mproc_pipe *a = NULL, *b = NULL;
    int r = mproc_pipe_new(&a, &b, NULL);
    if (r < 0)
        return r;
    r = mproc_pipe_send(a, "hi", 2, 0);
    char buf[4];
    size_t len = 0;
    if (r == 0)
        r = mproc_pipe_recv_into(b, buf, sizeof buf, &len, 0);
    if (r == 0 && (len != 2 || memcmp(buf, "hi", 2)))
        r = -EPROTO;
    mproc_pipe_free(a);
    mproc_pipe_free(b);
    return r;
}

static int c_shm(void)
{
    mproc_shm *b = NULL;
    int r = mproc_shm_new(&b, 1 << 20);
    if (r < 0)
        return r;
    memset(mproc_shm_ptr(b), 1, mproc_shm_size(b));
    mproc_shm_free(b);
    return 0;
}

static int c_named_shm(void)
{
    mproc_shm *b = NULL;
    const char *name = limits_name("shm");
    int r = mproc_shm_create(&b, name, 1 << 20, NULL);
    if (r < 0)
        return r;
    mproc_shm_unlink(name);
    memset(mproc_shm_ptr(b), 1, mproc_shm_size(b));
    mproc_shm_free(b);
    return 0;
}

/* A second handle on a block, by name and by descriptor. */
static int c_shm_attach(void)
{
    mproc_shm *b = NULL, *byname = NULL, *byfd = NULL;
    const char *name = limits_name("att");
    int r = mproc_shm_create(&b, name, 4096, NULL);
    if (r < 0)
        return r;
    r = mproc_shm_attach(&byname, name);
    mproc_shm_unlink(name);
    if (r == 0)
        r = mproc_shm_from_fd(&byfd, mproc_shm_fd(b));
    if (r == 0) {
        *(int *)mproc_shm_ptr(b) = 42;
        if (*(int *)mproc_shm_ptr(byname) != 42 || *(int *)mproc_shm_ptr(byfd) != 42)
            r = -EPROTO;
    }
    mproc_shm_free(byfd);
    mproc_shm_free(byname);
    mproc_shm_free(b);
    return r;
}

static int c_queue_attach(void)
{
    mproc_queue *q = NULL, *byname = NULL, *byfd = NULL;
    const char *name = limits_name("qatt");
    mproc_queue_opts o = { .name = name };
    int r = mproc_queue_new(&q, &o);
    if (r < 0)
        return r;
    r = mproc_queue_attach(&byname, name);
    mproc_queue_unlink(name);
    if (r == 0)
        r = mproc_queue_from_fd(&byfd, mproc_queue_fd(q));
    char buf[4];
    size_t len = 0;
    if (r == 0)
        r = mproc_queue_put(byname, "abc", 3, 0);
    if (r == 0)
        r = mproc_queue_get(byfd, buf, sizeof buf, &len, 0);
    if (r == 0 && (len != 3 || memcmp(buf, "abc", 3)))
        r = -EPROTO;
    mproc_queue_free(byfd);
    mproc_queue_free(byname);
    mproc_queue_free(q);
    return r;
}

static int c_array(void)
{
    mproc_shm *b = NULL;
    int r = mproc_shm_array_new(&b, sizeof(long), 1000, NULL, true);
    if (r < 0)
        return r;
    r = mproc_lock_acquire(mproc_shm_lock(b), 0);
    if (r == 0)
        r = mproc_lock_release(mproc_shm_lock(b));
    mproc_shm_free(b);
    return r;
}

static int c_sync(void)
{
    mproc_lock *l = NULL;
    mproc_rlock *rl = NULL;
    mproc_sem *s = NULL;
    mproc_event *e = NULL;
    mproc_cond *c = NULL;
    mproc_barrier *b = NULL;
    int r = mproc_lock_new(&l);
    if (r == 0)
        r = mproc_rlock_new(&rl);
    if (r == 0)
        r = mproc_sem_new(&s, 1, 0);
    if (r == 0)
        r = mproc_event_new(&e);
    if (r == 0)
        r = mproc_cond_new(&c);
    if (r == 0)
        r = mproc_barrier_new(&b, 1);
    if (r == 0 && (mproc_lock_acquire(l, 0) || mproc_lock_release(l) ||
                   mproc_rlock_acquire(rl, 0) || mproc_rlock_release(rl) ||
                   mproc_sem_acquire(s, 0) || mproc_sem_release(s) || mproc_event_set(e) ||
                   mproc_cond_notify_all(c) || mproc_barrier_wait(b, 0) != 0))
        r = -EPROTO;
    if (l)
        mproc_lock_destroy(l);
    if (rl)
        mproc_rlock_destroy(rl);
    if (b)
        mproc_barrier_destroy(b);
    mproc_lock_free(l);
    mproc_rlock_free(rl);
    mproc_sem_free(s);
    mproc_event_free(e);
    mproc_cond_free(c);
    mproc_barrier_free(b);
    return r;
}

typedef struct {
    const char *name;
    int (*make)(void);
} ctor;

static const ctor ctors[] = {
    { "process", c_process },  { "daemon", c_daemon },           { "pool", c_pool },
    { "queue", c_queue },      { "named queue", c_named_queue }, { "pipe", c_pipe },
    { "shm", c_shm },          { "named shm", c_named_shm },     { "array", c_array },
    { "sync objects", c_sync }, { "shm attach", c_shm_attach },  { "queue attach", c_queue_attach },
};
#define NCTORS (sizeof ctors / sizeof *ctors)

/* A clear answer to a limit: one of the resource errors, named by the
   header; never a success that does not work (-EPROTO here) or another
   code. */
static void check_answer(const ctor *c, int r, const char *limit, int level)
{
    bool clear = r == 0 || r == -EMFILE || r == -ENFILE || r == -ENOMEM || r == -EAGAIN ||
                 r == -ENOSPC;
    ck_assert_msg(clear, "%s under %s (%d): %d (%s)", c->name, limit, level, r, strerror(-r));
}

/* ---- RLIMIT_NOFILE ---------------------------------------------------------- */

/* Lower the descriptor limit and take every free descriptor but `spare`. */
typedef struct {
    struct rlimit old;
    int fill[64];
    int n;
} nofile;

static void nofile_begin(nofile *f, int spare)
{
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &f->old), 0);
    struct rlimit low = { 64, f->old.rlim_max };
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    f->n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            ck_assert_int_eq(errno, EMFILE);
            break;
        }
        ck_assert_int_lt(f->n, 64);
        f->fill[f->n++] = fd;
    }
    for (int i = 0; i < spare && f->n > 0; i++)
        close(f->fill[--f->n]);
}

static void nofile_end(nofile *f)
{
    while (f->n > 0)
        close(f->fill[--f->n]);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &f->old), 0);
}

START_TEST(no_free_descriptor_is_emfile)
{
    /* The ones that need a descriptor refuse; none reports a success that
       did not happen (as a start whose child could not open /dev/null). */
    static int (*const needs_fd[])(void) = { c_process, c_daemon, c_queue, c_pipe, c_shm };
    for (size_t i = 0; i < sizeof needs_fd / sizeof *needs_fd; i++) {
        nofile f;
        nofile_begin(&f, 0);
        int r = needs_fd[i]();
        nofile_end(&f);
        ck_assert_msg(r == -EMFILE, "constructor %zu with no descriptor: %d", i, r);
    }
}
END_TEST

START_TEST(every_constructor_with_few_descriptors)
{
    for (size_t i = 0; i < NCTORS; i++)
        for (int spare = 0; spare <= 6; spare++) {
            nofile f;
            nofile_begin(&f, spare);
            int r = ctors[i].make();
            nofile_end(&f);
            check_answer(&ctors[i], r, "RLIMIT_NOFILE spare", spare);
        }
    /* And with the limit gone, every one works. */
    for (size_t i = 0; i < NCTORS; i++)
        ck_assert_msg(ctors[i].make() == 0, "%s", ctors[i].name);
}
END_TEST

/* ---- RLIMIT_NPROC ------------------------------------------------------------- */

START_TEST(every_constructor_with_no_process_slot)
{
    /* Root ignores RLIMIT_NPROC: become nobody, who runs nothing else. */
    mproc_test_drop_root();
    struct rlimit old;
    ck_assert_int_eq(getrlimit(RLIMIT_NPROC, &old), 0);
    for (rlim_t slots = 0; slots <= 3; slots++)
        for (size_t i = 0; i < NCTORS; i++) {
            if (strstr(ctors[i].name, "named") || strstr(ctors[i].name, "attach"))
                continue; /* nobody may not write /dev/shm everywhere */
            struct rlimit low = { slots, old.rlim_max };
            ck_assert_int_eq(setrlimit(RLIMIT_NPROC, &low), 0);
            int r = ctors[i].make();
            /* The sanitizers' exit checks need a thread of their own. */
            ck_assert_int_eq(setrlimit(RLIMIT_NPROC, &old), 0);
            check_answer(&ctors[i], r, "RLIMIT_NPROC", (int)slots);
            if (slots == 0 && (ctors[i].make == c_process || ctors[i].make == c_daemon ||
                               ctors[i].make == c_pool))
                ck_assert_msg(r == -EAGAIN, "%s with no process slot: %d", ctors[i].name, r);
        }
}
END_TEST

/* ---- RLIMIT_AS ----------------------------------------------------------------- */

static size_t vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
            break;
    fclose(f);
    ck_assert_uint_gt(kb, 0);
    return kb * 1024;
}

START_TEST(every_constructor_with_little_address_space)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* The sanitizers reserve their shadow up front and abort, not fail, when
       they cannot map more. */
    return;
#endif
    struct rlimit old;
    ck_assert_int_eq(getrlimit(RLIMIT_AS, &old), 0);
    static const size_t slack_mib[] = { 0, 1, 2, 4, 8, 16, 64 };
    for (size_t k = 0; k < sizeof slack_mib / sizeof *slack_mib; k++)
        for (size_t i = 0; i < NCTORS; i++) {
            struct rlimit low = { vm_size() + (slack_mib[k] << 20), old.rlim_max };
            ck_assert_int_eq(setrlimit(RLIMIT_AS, &low), 0);
            int r = ctors[i].make();
            ck_assert_int_eq(setrlimit(RLIMIT_AS, &old), 0);
            check_answer(&ctors[i], r, "RLIMIT_AS slack MiB", (int)slack_mib[k]);
            /* A 1 MiB block cannot fit in no room at all. */
            if (slack_mib[k] == 0 && (ctors[i].make == c_shm || ctors[i].make == c_queue))
                ck_assert_msg(r == -ENOMEM, "%s with no address space: %d", ctors[i].name, r);
        }
}
END_TEST

void mproc_test_cases(Suite *s)
{
    TCase *tc = mproc_tcase(s, "limits", 60);
    tcase_add_test(tc, no_free_descriptor_is_emfile);
    tcase_add_test(tc, every_constructor_with_few_descriptors);
    tcase_add_test(tc, every_constructor_with_no_process_slot);
    tcase_add_test(tc, every_constructor_with_little_address_space);
}
