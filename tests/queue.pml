/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* queue.pml: a Promela model of the queue's put / take / wake-up protocol
 * (src/queue.c), checked by tests/queue_model.sh: with RULE=0 (the old
 * rule, a woken getter stops counting as a sleeper before it commits) spin
 * must find a getter asleep for ever beside a message; with RULE=1 (a
 * sleeping getter counts until it commits or gives up) it must find none.
 * Putters are the same under both: every get wakes one while any sleeps.
 *
 * Two producers put one message each into a ring that holds CAP messages;
 * two getters take one message each and stop, the second perhaps sooner:
 * it may time out while asleep, or find its buffer too small for the
 * message, and go away without one. So a getter
 * left asleep beside a message has nobody to take it: when nothing can
 * move any more, the monitor asserts that no getter sleeps while messages
 * remain (spin: an assertion violated). Every statement is one step;
 * the side mutexes serialise each side as the C code does; a futex wait is
 * the atomic compare-and-sleep, and a futex wake takes any one sleeper. */

#ifndef RULE
#define RULE 1
#endif
#define CAP 2

byte puts, gets;       /* messages published / taken, ever */
byte put_seq, get_seq; /* the futex words, bumped by every put / get */
byte getters, putters; /* counted sleepers */
bool gasleep[2], pasleep[2];
bool gm, pm;           /* the side mutexes */

inline lock(m) { atomic { !m -> m = 1 } }
inline unlock(m) { m = 0 }

inline wake_getter() {
    atomic {
        if
        :: gasleep[0] -> gasleep[0] = 0
        :: gasleep[1] -> gasleep[1] = 0
        :: else -> skip
        fi
    }
}

inline wake_putter() {
    atomic {
        if
        :: pasleep[0] -> pasleep[0] = 0
        :: pasleep[1] -> pasleep[1] = 0
        :: else -> skip
        fi
    }
}

proctype producer(byte me)
{
    byte s, g, sl;
    bool slept = 0, wake, more;
    lock(pm);
look:
    s = get_seq;               /* the futex word before the look */
    g = gets;
    if
    :: puts - g < CAP ->
        puts++;                /* the commit publishes the message */
        put_seq++;
        sl = getters;
        g = gets;
        wake = (sl > 0 && puts - g <= sl);
        more = (slept && puts - gets < CAP);
        unlock(pm);
        if
        :: wake -> wake_getter()
        :: else -> skip
        fi;
        if
        :: more && putters > 0 -> wake_putter()
        :: else -> skip
        fi
    :: else ->
        putters++;             /* a putter counts only while it sleeps */
        slept = 1;
        unlock(pm);
        atomic {
            if
            :: get_seq == s -> pasleep[me] = 1
            :: else -> skip
            fi
        };
        !pasleep[me];
        putters--;
        lock(pm);
        goto look
    fi
}

proctype getter(byte me)
{
    byte s, t;
    bool slept = 0, more, timedout = 0;
    bool patient = (me == 0); /* getter 1 may give up once asleep, and leave */
    lock(gm);
look:
    s = put_seq;               /* the futex word before the look */
    t = puts;
    if
    :: t != gets && !patient ->
        /* Too small a buffer (-EMSGSIZE): the message stays first and the
           get goes away, passing the wake-up on. */
        goto give_up
    :: t != gets ->
        skip;                  /* the copy */
        gets++;                /* the commit */
        get_seq++;
#if RULE
        if
        :: slept -> getters--
        :: else -> skip
        fi;
        more = 0;
#else
        more = (slept && t != gets); /* "more to do", from the tail read above */
#endif
        unlock(gm);
        if
        :: putters > 0 -> wake_putter()
        :: else -> skip
        fi;
        if
        :: more && getters > 0 -> put_seq++; wake_getter()
        :: else -> skip
        fi
    :: else ->
#if RULE
        if
        :: !slept -> getters++
        :: else -> skip
        fi;
#else
        getters++;
#endif
        slept = 1;
        unlock(gm);
        atomic {
            if
            :: put_seq == s -> gasleep[me] = 1
            :: else -> skip
            fi
        };
end_asleep:
        if
        :: !gasleep[me] -> skip /* woken, or never asleep */
        :: atomic { !patient && gasleep[me] -> gasleep[me] = 0; timedout = 1 }
        fi;
#if !RULE
        getters--;
#endif
        lock(gm);
        if
        :: timedout -> goto give_up /* its caller goes away */
        :: else -> goto look
        fi
    fi;
    goto done;
give_up:
    /* Leaving without a message, it passes the wake-up on while messages
       remain. */
#if RULE
    if
    :: slept -> getters--
    :: else -> skip
    fi;
#endif
    t = puts;
    more = (t != gets);
    unlock(gm);
    if
    :: slept && more && getters > 0 -> put_seq++; wake_getter()
    :: else -> skip
    fi;
done:
    skip
}

/* When nothing can move any more: no getter asleep beside a message. */
active proctype monitor()
{
    timeout -> assert(puts == gets || !(gasleep[0] || gasleep[1]))
}

init
{
    atomic {
        run getter(0);
        run getter(1);
        run producer(0);
        run producer(1)
    }
}
