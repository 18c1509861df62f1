#include "net/deflate.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/alloc.h"

struct deflate_state {
	z_stream in;  /* inflate: from the client */
	z_stream out; /* deflate: to the client */
};

/* Runs src through zlib into dst until src is used up and zlib has written everything. */
static enum bufferevent_filter_result pump(z_stream *z, bool deflating, struct evbuffer *src,
					   struct evbuffer *dst, int final_flush)
{
	bool produced = false;
	for (;;) {
		struct evbuffer_iovec in;
		int nin = evbuffer_peek(src, -1, NULL, &in, 1);
		size_t avail = nin > 0 ? in.iov_len : 0;
		bool last_input = evbuffer_get_length(src) == avail;
		z->next_in = avail ? in.iov_base : NULL;
		z->avail_in = (uInt)avail;
		struct evbuffer_iovec out;
		if (evbuffer_reserve_space(dst, 16384, &out, 1) < 1)
			return BEV_ERROR;
		z->next_out = out.iov_base;
		z->avail_out = (uInt)out.iov_len;
		int rc = deflating ? deflate(z, last_input ? final_flush : Z_NO_FLUSH)
				   : inflate(z, Z_SYNC_FLUSH);
		size_t used = avail - z->avail_in;
		out.iov_len -= z->avail_out;
		evbuffer_commit_space(dst, &out, 1);
		evbuffer_drain(src, used);
		produced |= out.iov_len > 0;
		if (rc == Z_STREAM_ERROR || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR || rc == Z_NEED_DICT)
			return BEV_ERROR;
		if (z->avail_out == 0)
			continue; /* more output may be waiting */
		if (evbuffer_get_length(src) == 0 || (used == 0 && rc == Z_BUF_ERROR))
			break;
	}
	return produced ? BEV_OK : BEV_NEED_MORE;
}

static enum bufferevent_filter_result filter_in(struct evbuffer *src, struct evbuffer *dst,
						ev_ssize_t limit, enum bufferevent_flush_mode mode,
						void *ctx)
{
	struct deflate_state *st = ctx;
	return pump(&st->in, false, src, dst, Z_SYNC_FLUSH);
}

static enum bufferevent_filter_result filter_out(struct evbuffer *src, struct evbuffer *dst,
						 ev_ssize_t limit, enum bufferevent_flush_mode mode,
						 void *ctx)
{
	struct deflate_state *st = ctx;
	/* Every write is flushed: replies must not wait in the compressor. */
	return pump(&st->out, true, src, dst, mode == BEV_FINISHED ? Z_FINISH : Z_SYNC_FLUSH);
}

static void state_free(void *ctx)
{
	struct deflate_state *st = ctx;
	inflateEnd(&st->in);
	deflateEnd(&st->out);
	free(st);
}

struct bufferevent *net_deflate_wrap(struct bufferevent *under)
{
	struct deflate_state *st = xcalloc(1, sizeof *st);
	/* Raw deflate (negative window bits), as RFC 4978 says. Our side uses a 4 KiB window and
	 * memLevel 5 to keep an idle compressed session small; we must accept the client's 32 KiB. */
	if (inflateInit2(&st->in, -15) != Z_OK) {
		free(st);
		return NULL;
	}
	if (deflateInit2(&st->out, 6, Z_DEFLATED, -12, 5, Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&st->in);
		free(st);
		return NULL;
	}
	return bufferevent_filter_new(under, filter_in, filter_out,
				      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, state_free, st);
}
