/* COMPRESS=DEFLATE (RFC 4978): a libevent filter that runs a connection through raw deflate
 * (zlib) in both directions. */
#ifndef YUBIN_DEFLATE_H
#define YUBIN_DEFLATE_H
#include <event2/bufferevent.h>

/* Wraps `under` (which the filter then owns and frees) in a compressing bufferevent. NULL when
 * zlib cannot start (out of memory). */
struct bufferevent *net_deflate_wrap(struct bufferevent *under);

#endif
