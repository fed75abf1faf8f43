/* mproc/ipc.h: part of <mproc.h>; include that instead. */
#ifndef MPROC_IPC_H
#define MPROC_IPC_H
#endif
