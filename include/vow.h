/* vow.h - JavaScript's promises and Python asyncio's toolbox for C, on libev.
 * The umbrella header: include this one. Each concept has its own header under vow/. */
#ifndef VOW_H
#define VOW_H

#include "vow/common.h"
#include "vow/error.h"
#include "vow/loop.h"
#include "vow/timer.h"
#include "vow/promise.h"
#include "vow/combinators.h"
#include "vow/task.h"
#include "vow/queue.h"
#include "vow/sync.h"
#include "vow/stream.h"
#include "vow/scope.h"
#include "vow/ratelimit.h"
#include "vow/cache.h"
#include "vow/thread.h"
#include "vow/async.h"
#include "vow/io.h"
#include "vow/net.h"

#endif /* VOW_H */
