/* mproc/pool.h: part of <mproc.h>; include that instead. */
#ifndef MPROC_POOL_H
#define MPROC_POOL_H
#endif
