/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* queue.pml: a Promela model of the queue's put / take / wake-up protocol
 * (src/queue.c), checked by tests/queue_model.sh.
 *
 * Getters: with RULE=0 (the old rule, a woken getter stops counting as a
 * sleeper before it commits) spin must find a getter asleep for ever
 * beside a message; with RULE=1 (a sleeping getter counts until it commits
 * or gives up) it must find none.
 *
 * Putters: wake-ups are tickets (wake_putter in src/queue.c). With PRULE=1
 * a putter reads the futex word, registers, and only then looks at the
 * room a last time; a waker claims a registration, then moves the futex
 * word, then wakes one. spin must find no putter asleep while its message
 * would fit. With PRULE=0 (registering after the last look) it must find
 * one: the model can tell a lost putter's wake-up. A putter about to sleep
 * may first yield once (PUTTERS' YIELDS: pm let go and taken again, then a
 * look anew, registered nowhere), and one woken for room passes a wake-up
 * on only while a record like its own still fits.
 *
 * Copies: with SPLIT=1 each put and get copies either under its side's
 * lock or outside it, as the C code chooses (COPIES OUTSIDE THE LOCKS): a
 * put reserves under pm, copies, takes pm again and publishes every record
 * whose copy is in, in ring order (several at once when it finds an
 * earlier copy finished; the getters' rule once for each), waiting for an
 * earlier copy still in flight; a get is taken (gets raised) under gm,
 * copies, takes gm again and gives back the room of every record whose
 * copy is out, waiting likewise, and only then wakes a putter. With
 * SPLIT=0 every copy is made under the lock. With WAKEK=0 a publication
 * of several messages applies the getters' rule only once: spin must find
 * the getter it leaves asleep.
 *
 * Two producers put one message each into a ring that holds CAP messages
 * (CAP=1 makes putters sleep); two getters take one message each and stop,
 * the second perhaps sooner: it may time out while asleep, or find its
 * buffer too small for the message, and go away without one; the second
 * producer may time out asleep too. So a getter left asleep beside a
 * message, or a putter beside room, has nobody to wake it: when nothing can
 * move any more, the monitor asserts that neither is (spin: an assertion
 * violated). Every statement is one step; the side locks serialise each
 * side as the C code does; a futex wait is the atomic compare-and-sleep,
 * and a futex wake takes any one sleeper. Wake-ups are made with the
 * side's lock held, as in the C code. */

#ifndef RULE
#define RULE 1
#endif
#ifndef PRULE
#define PRULE 1
#endif
#ifndef CAP
#define CAP 2
#endif
#ifndef SPLIT
#define SPLIT 1
#endif
#ifndef WAKEK
#define WAKEK 1
#endif

byte rputs, puts;      /* messages reserved / published by producers, ever */
byte gets, freed;      /* messages taken / whose room is given back, ever */
bool copied_in[3], copied_out[3]; /* message n's copies (n = 1, 2) */
byte put_seq, get_seq; /* the futex words: getters' (every put), putters' (every claim) */
byte getters;          /* counted getters */
byte putters, pwoken;  /* putters' registrations and claims, ever */
bool gasleep[2], pasleep[2];
bool gm, pm;           /* the side locks */

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

/* Claim a registration, move the putters' futex word, wake one: three
   steps, as in the C code. */
inline claim_putter(c) {
    atomic {
        if
        :: putters != pwoken -> pwoken++; c = 1
        :: else -> skip
        fi
    };
    if
    :: c -> get_seq++; wake_putter(); c = 0
    :: else -> skip
    fi
}

proctype producer(byte me)
{
    byte s, g, sl, mine, w, p0, i;
    bool slept = 0, c = 0, timedout = 0, yielded = 0;
    bool patient = (me == 0); /* producer 1 may give up once asleep */
    lock(pm);
look:
    g = freed;
    if
    :: rputs - g < CAP -> goto put
    :: else -> skip
    fi;
    /* About to sleep: first, once, it may yield (PUTTERS' YIELDS): pm let
       go and taken again, a look anew, nothing registered. */
    if
    :: !yielded -> yielded = 1; unlock(pm); lock(pm); goto look
    :: skip
    fi;
#if PRULE
    s = get_seq;               /* the futex word, */
    putters++;                 /* the registration, */
    g = freed;                 /* then the last look */
#else
    s = get_seq;
    g = freed;                 /* the look, */
    if
    :: rputs - g >= CAP -> putters++ /* then the registration: too late */
    :: else -> skip
    fi;
#endif
    if
    :: rputs - g < CAP -> goto put
    :: else -> skip
    fi;
    slept = 1;
    unlock(pm);
    atomic {
        if
        :: get_seq == s -> pasleep[me] = 1
        :: else -> skip
        fi
    };
end_pasleep:
    if
    :: !pasleep[me] -> skip /* woken, or never asleep */
    :: atomic { !patient && pasleep[me] -> pasleep[me] = 0; timedout = 1 }
    fi;
    lock(pm);
    if
    :: timedout ->
        /* It goes away, passing a wake-up meant for it on. */
        claim_putter(c);
        unlock(pm);
        goto done
    :: else -> goto look
    fi;
put:
    rputs++;                   /* the reservation */
    mine = rputs;
#if SPLIT
    if
    :: skip                    /* copied under pm */
    :: unlock(pm); lock(pm)    /* copied outside it */
    fi;
#endif
    copied_in[mine] = 1;
publish:
    /* The tail moves over every record whose copy is in, in ring order;
       each message published goes through the one-message rule. */
    p0 = puts;
    do
    :: puts < rputs && copied_in[puts + 1] -> puts++
    :: else -> break
    od;
    if
    :: puts != p0 ->
        put_seq++;
        sl = getters;
        g = gets;
#if WAKEK
        i = p0 + 1;
#else
        i = puts;              /* the rule once for all of them: too few */
#endif
        do
        :: i <= puts ->
            if
            :: sl > 0 && i - g <= sl -> wake_getter()
            :: else -> skip
            fi;
            i++
        :: else -> break
        od
    :: else -> skip
    fi;
    if
    :: puts < mine ->
        /* Behind an earlier copy in flight: wait for its copier. */
        w = puts + 1;
        unlock(pm);
        copied_in[w];
        lock(pm);
        goto publish
    :: else -> skip
    fi;
    if
    :: slept && rputs - freed < CAP -> claim_putter(c) /* room for another */
    :: else -> skip
    fi;
    unlock(pm);
done:
    skip
}

proctype getter(byte me)
{
    byte s, t, mine, f;
    bool slept = 0, more, c = 0, timedout = 0;
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
        gets++;                /* taken (the reservation), then the fence */
        mine = gets;
#if RULE
        if
        :: slept -> getters--
        :: else -> skip
        fi;
        more = 0;
#else
        more = (slept && t != gets); /* "more to do", from the tail read above */
#endif
#if SPLIT
        if
        :: skip                /* copied under gm */
        :: unlock(gm); lock(gm) /* copied outside it */
        fi;
#endif
        copied_out[mine] = 1;
reclaim:
        /* The head moves over every record whose copy is out. */
        do
        :: freed < gets && copied_out[freed + 1] -> freed++
        :: else -> break
        od;
        if
        :: freed < mine ->
            f = freed + 1;
            unlock(gm);
            copied_out[f];
            lock(gm);
            goto reclaim
        :: else -> skip
        fi;
        claim_putter(c);       /* room freed: a registered putter is woken */
        if
        :: more && getters > 0 -> put_seq++; wake_getter()
        :: else -> skip
        fi;
        unlock(gm)
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
    if
    :: slept && more && getters > 0 -> put_seq++; wake_getter()
    :: else -> skip
    fi;
    unlock(gm);
done:
    skip
}

/* When nothing can move any more: no getter asleep beside a message, no
   putter asleep beside room. */
active proctype monitor()
{
    timeout -> assert((puts == gets || !(gasleep[0] || gasleep[1])) &&
                      (rputs - freed >= CAP || !(pasleep[0] || pasleep[1])))
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
