/* SPDX-License-Identifier: MIT
 * Copyright (c) 2026 The mproc authors */
/* errors.c: the name and the text of every code the library returns. */
#include "internal.h"

#include <string.h>

/* -10005 belongs to libmproc-mpi (<mproc/mpi.h>); named here so that one
   table names every code. */
#define MPROC_CODES(X)                                                          \
    X(MPROC_ETASK, "MPROC_ETASK", "the task function returned an error")        \
    X(MPROC_EWORKER, "MPROC_EWORKER", "the worker died while running the task") \
    X(MPROC_ETASKTIMEOUT, "MPROC_ETASKTIMEOUT",                                 \
      "the task ran past its timeout and was killed")                           \
    X(MPROC_EINIT, "MPROC_EINIT", "a worker's initializer failed: the pool is broken") \
    X(-10005, "MPROC_ERANKLOST", "the rank running the task was lost")

/* Every errno constant Linux defines, each under #ifdef so that a C library
   lacking one still builds. Aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP) come
   after the name they share a value with, so the lookup finds that one. */
#define E(name) { name, #name },
static const struct errno_name {
    int code;
    const char *name;
} errno_names[] = {
#ifdef EPERM
    E(EPERM)
#endif
#ifdef ENOENT
    E(ENOENT)
#endif
#ifdef ESRCH
    E(ESRCH)
#endif
#ifdef EINTR
    E(EINTR)
#endif
#ifdef EIO
    E(EIO)
#endif
#ifdef ENXIO
    E(ENXIO)
#endif
#ifdef E2BIG
    E(E2BIG)
#endif
#ifdef ENOEXEC
    E(ENOEXEC)
#endif
#ifdef EBADF
    E(EBADF)
#endif
#ifdef ECHILD
    E(ECHILD)
#endif
#ifdef EAGAIN
    E(EAGAIN)
#endif
#ifdef ENOMEM
    E(ENOMEM)
#endif
#ifdef EACCES
    E(EACCES)
#endif
#ifdef EFAULT
    E(EFAULT)
#endif
#ifdef ENOTBLK
    E(ENOTBLK)
#endif
#ifdef EBUSY
    E(EBUSY)
#endif
#ifdef EEXIST
    E(EEXIST)
#endif
#ifdef EXDEV
    E(EXDEV)
#endif
#ifdef ENODEV
    E(ENODEV)
#endif
#ifdef ENOTDIR
    E(ENOTDIR)
#endif
#ifdef EISDIR
    E(EISDIR)
#endif
#ifdef EINVAL
    E(EINVAL)
#endif
#ifdef ENFILE
    E(ENFILE)
#endif
#ifdef EMFILE
    E(EMFILE)
#endif
#ifdef ENOTTY
    E(ENOTTY)
#endif
#ifdef ETXTBSY
    E(ETXTBSY)
#endif
#ifdef EFBIG
    E(EFBIG)
#endif
#ifdef ENOSPC
    E(ENOSPC)
#endif
#ifdef ESPIPE
    E(ESPIPE)
#endif
#ifdef EROFS
    E(EROFS)
#endif
#ifdef EMLINK
    E(EMLINK)
#endif
#ifdef EPIPE
    E(EPIPE)
#endif
#ifdef EDOM
    E(EDOM)
#endif
#ifdef ERANGE
    E(ERANGE)
#endif
#ifdef EDEADLK
    E(EDEADLK)
#endif
#ifdef ENAMETOOLONG
    E(ENAMETOOLONG)
#endif
#ifdef ENOLCK
    E(ENOLCK)
#endif
#ifdef ENOSYS
    E(ENOSYS)
#endif
#ifdef ENOTEMPTY
    E(ENOTEMPTY)
#endif
#ifdef ELOOP
    E(ELOOP)
#endif
#ifdef ENOMSG
    E(ENOMSG)
#endif
#ifdef EIDRM
    E(EIDRM)
#endif
#ifdef ECHRNG
    E(ECHRNG)
#endif
#ifdef EL2NSYNC
    E(EL2NSYNC)
#endif
#ifdef EL3HLT
    E(EL3HLT)
#endif
#ifdef EL3RST
    E(EL3RST)
#endif
#ifdef ELNRNG
    E(ELNRNG)
#endif
#ifdef EUNATCH
    E(EUNATCH)
#endif
#ifdef ENOCSI
    E(ENOCSI)
#endif
#ifdef EL2HLT
    E(EL2HLT)
#endif
#ifdef EBADE
    E(EBADE)
#endif
#ifdef EBADR
    E(EBADR)
#endif
#ifdef EXFULL
    E(EXFULL)
#endif
#ifdef ENOANO
    E(ENOANO)
#endif
#ifdef EBADRQC
    E(EBADRQC)
#endif
#ifdef EBADSLT
    E(EBADSLT)
#endif
#ifdef EBFONT
    E(EBFONT)
#endif
#ifdef ENOSTR
    E(ENOSTR)
#endif
#ifdef ENODATA
    E(ENODATA)
#endif
#ifdef ETIME
    E(ETIME)
#endif
#ifdef ENOSR
    E(ENOSR)
#endif
#ifdef ENONET
    E(ENONET)
#endif
#ifdef ENOPKG
    E(ENOPKG)
#endif
#ifdef EREMOTE
    E(EREMOTE)
#endif
#ifdef ENOLINK
    E(ENOLINK)
#endif
#ifdef EADV
    E(EADV)
#endif
#ifdef ESRMNT
    E(ESRMNT)
#endif
#ifdef ECOMM
    E(ECOMM)
#endif
#ifdef EPROTO
    E(EPROTO)
#endif
#ifdef EMULTIHOP
    E(EMULTIHOP)
#endif
#ifdef EDOTDOT
    E(EDOTDOT)
#endif
#ifdef EBADMSG
    E(EBADMSG)
#endif
#ifdef EOVERFLOW
    E(EOVERFLOW)
#endif
#ifdef ENOTUNIQ
    E(ENOTUNIQ)
#endif
#ifdef EBADFD
    E(EBADFD)
#endif
#ifdef EREMCHG
    E(EREMCHG)
#endif
#ifdef ELIBACC
    E(ELIBACC)
#endif
#ifdef ELIBBAD
    E(ELIBBAD)
#endif
#ifdef ELIBSCN
    E(ELIBSCN)
#endif
#ifdef ELIBMAX
    E(ELIBMAX)
#endif
#ifdef ELIBEXEC
    E(ELIBEXEC)
#endif
#ifdef EILSEQ
    E(EILSEQ)
#endif
#ifdef ERESTART
    E(ERESTART)
#endif
#ifdef ESTRPIPE
    E(ESTRPIPE)
#endif
#ifdef EUSERS
    E(EUSERS)
#endif
#ifdef ENOTSOCK
    E(ENOTSOCK)
#endif
#ifdef EDESTADDRREQ
    E(EDESTADDRREQ)
#endif
#ifdef EMSGSIZE
    E(EMSGSIZE)
#endif
#ifdef EPROTOTYPE
    E(EPROTOTYPE)
#endif
#ifdef ENOPROTOOPT
    E(ENOPROTOOPT)
#endif
#ifdef EPROTONOSUPPORT
    E(EPROTONOSUPPORT)
#endif
#ifdef ESOCKTNOSUPPORT
    E(ESOCKTNOSUPPORT)
#endif
#ifdef EOPNOTSUPP
    E(EOPNOTSUPP)
#endif
#ifdef EPFNOSUPPORT
    E(EPFNOSUPPORT)
#endif
#ifdef EAFNOSUPPORT
    E(EAFNOSUPPORT)
#endif
#ifdef EADDRINUSE
    E(EADDRINUSE)
#endif
#ifdef EADDRNOTAVAIL
    E(EADDRNOTAVAIL)
#endif
#ifdef ENETDOWN
    E(ENETDOWN)
#endif
#ifdef ENETUNREACH
    E(ENETUNREACH)
#endif
#ifdef ENETRESET
    E(ENETRESET)
#endif
#ifdef ECONNABORTED
    E(ECONNABORTED)
#endif
#ifdef ECONNRESET
    E(ECONNRESET)
#endif
#ifdef ENOBUFS
    E(ENOBUFS)
#endif
#ifdef EISCONN
    E(EISCONN)
#endif
#ifdef ENOTCONN
    E(ENOTCONN)
#endif
#ifdef ESHUTDOWN
    E(ESHUTDOWN)
#endif
#ifdef ETOOMANYREFS
    E(ETOOMANYREFS)
#endif
#ifdef ETIMEDOUT
    E(ETIMEDOUT)
#endif
#ifdef ECONNREFUSED
    E(ECONNREFUSED)
#endif
#ifdef EHOSTDOWN
    E(EHOSTDOWN)
#endif
#ifdef EHOSTUNREACH
    E(EHOSTUNREACH)
#endif
#ifdef EALREADY
    E(EALREADY)
#endif
#ifdef EINPROGRESS
    E(EINPROGRESS)
#endif
#ifdef ESTALE
    E(ESTALE)
#endif
#ifdef EUCLEAN
    E(EUCLEAN)
#endif
#ifdef ENOTNAM
    E(ENOTNAM)
#endif
#ifdef ENAVAIL
    E(ENAVAIL)
#endif
#ifdef EISNAM
    E(EISNAM)
#endif
#ifdef EREMOTEIO
    E(EREMOTEIO)
#endif
#ifdef EDQUOT
    E(EDQUOT)
#endif
#ifdef ENOMEDIUM
    E(ENOMEDIUM)
#endif
#ifdef EMEDIUMTYPE
    E(EMEDIUMTYPE)
#endif
#ifdef ECANCELED
    E(ECANCELED)
#endif
#ifdef ENOKEY
    E(ENOKEY)
#endif
#ifdef EKEYEXPIRED
    E(EKEYEXPIRED)
#endif
#ifdef EKEYREVOKED
    E(EKEYREVOKED)
#endif
#ifdef EKEYREJECTED
    E(EKEYREJECTED)
#endif
#ifdef EOWNERDEAD
    E(EOWNERDEAD)
#endif
#ifdef ENOTRECOVERABLE
    E(ENOTRECOVERABLE)
#endif
#ifdef ERFKILL
    E(ERFKILL)
#endif
#ifdef EHWPOISON
    E(EHWPOISON)
#endif
#ifdef EWOULDBLOCK
    E(EWOULDBLOCK)
#endif
#ifdef EDEADLOCK
    E(EDEADLOCK)
#endif
#ifdef ENOTSUP
    E(ENOTSUP)
#endif
};
#undef E

static const char *errno_name(int e)
{
    for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++)
        if (errno_names[i].code == e)
            return errno_names[i].name;
    return NULL;
}

const char *mproc_errname(int err)
{
#define NAME(code, name, text)                                                  \
    if (err == (code))                                                          \
        return name;
    MPROC_CODES(NAME)
#undef NAME
    if (err == 0)
        return "OK";
    const char *s = err < 0 ? errno_name(-err) : NULL;
    return s ? s : "UNKNOWN";
}

const char *mproc_strerror(int err)
{
#define TEXT(code, name, text)                                                  \
    if (err == (code))                                                          \
        return text;
    MPROC_CODES(TEXT)
#undef TEXT
    if (err == 0)
        return "success";
    if (err == -ETIMEDOUT)
        return "timed out";
    /* strerror is the portable source of the system's text (glibc and
       musl alike); for a value it knows it returns a static string and
       touches no shared buffer, and only values named above reach it. */
    if (err < 0 && errno_name(-err))
        return strerror(-err);
    return "unknown error";
}

const char *mproc_version(void)
{
    return MPROC_VERSION_STRING;
}
