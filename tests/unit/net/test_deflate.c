/* COMPRESS=DEFLATE (net/deflate.c) between a bufferevent pair: what the server writes
 * arrives as raw deflate that inflates at once (every write is flushed), and what the client
 * sends deflated is read as plain text. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <zlib.h>

#include "net/deflate.h"
#include "test.h"

struct pipe {
	struct event_base *base;
	struct bufferevent *server; /* the filter, over pair[0] */
	struct bufferevent *client; /* pair[1] */
	short events;               /* events the filter reported (none is expected) */
};

static void on_event(struct bufferevent *bev, short what, void *ctx)
{
	struct pipe *p = ctx;
	p->events |= what;
}

static bool pipe_open(struct pipe *p)
{
	memset(p, 0, sizeof *p);
	p->base = event_base_new();
	struct bufferevent *pair[2];
	if (bufferevent_pair_new(p->base, BEV_OPT_CLOSE_ON_FREE, pair) != 0)
		return false;
	p->client = pair[1];
	p->server = net_deflate_wrap(pair[0]);
	if (!p->server)
		return false;
	bufferevent_setcb(p->server, NULL, NULL, on_event, p);
	bufferevent_enable(p->server, EV_READ | EV_WRITE);
	bufferevent_enable(p->client, EV_READ | EV_WRITE);
	return true;
}

static void pipe_run(struct pipe *p)
{
	for (int i = 0; i < 20; i++)
		event_base_loop(p->base, EVLOOP_NONBLOCK);
}

static void pipe_close(struct pipe *p)
{
	if (p->server)
		bufferevent_free(p->server);
	if (p->client)
		bufferevent_free(p->client);
	event_base_free(p->base);
}

/* Inflates (raw, 32 KiB window) everything in buf with a sync flush into out. */
static size_t inflate_all(z_stream *z, struct evbuffer *buf, char *out, size_t outlen)
{
	size_t n = evbuffer_get_length(buf);
	unsigned char *in = evbuffer_pullup(buf, -1);
	z->next_in = in;
	z->avail_in = (uInt)n;
	z->next_out = (unsigned char *)out;
	z->avail_out = (uInt)outlen;
	inflate(z, Z_SYNC_FLUSH);
	evbuffer_drain(buf, n);
	return outlen - z->avail_out;
}

TEST(deflate_each_reply_inflates_without_waiting_for_more)
{
	struct pipe p;
	CHECK(pipe_open(&p));
	z_stream z = { 0 };
	CHECK_EQ_INT(inflateInit2(&z, -15), Z_OK);
	char out[256];
	bufferevent_write(p.server, "* OK hello\r\n", 12);
	pipe_run(&p);
	struct evbuffer *got = bufferevent_get_input(p.client);
	CHECK(evbuffer_get_length(got) > 0);
	size_t n = inflate_all(&z, got, out, sizeof out);
	CHECK_EQ_INT(n, 12);
	CHECK(n == 12 && memcmp(out, "* OK hello\r\n", 12) == 0);
	/* The next reply continues the same stream. */
	bufferevent_write(p.server, "a1 OK done\r\n", 12);
	pipe_run(&p);
	n = inflate_all(&z, got, out, sizeof out);
	CHECK_EQ_INT(n, 12);
	CHECK(n == 12 && memcmp(out, "a1 OK done\r\n", 12) == 0);
	inflateEnd(&z);
	pipe_close(&p);
}

TEST(deflate_reads_what_the_client_compressed)
{
	struct pipe p;
	CHECK(pipe_open(&p));
	z_stream z = { 0 };
	CHECK_EQ_INT(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	const char *cmd = "a2 NOOP\r\na3 LOGOUT\r\n";
	unsigned char wire[256];
	z.next_in = (unsigned char *)cmd;
	z.avail_in = (uInt)strlen(cmd);
	z.next_out = wire;
	z.avail_out = sizeof wire;
	CHECK_EQ_INT(deflate(&z, Z_SYNC_FLUSH), Z_OK);
	size_t wlen = sizeof wire - z.avail_out;
	/* Byte by byte, as a slow network would hand it over. */
	for (size_t i = 0; i < wlen; i++) {
		bufferevent_write(p.client, wire + i, 1);
		pipe_run(&p);
	}
	struct evbuffer *in = bufferevent_get_input(p.server);
	CHECK_EQ_INT(evbuffer_get_length(in), strlen(cmd));
	char text[64] = "";
	evbuffer_remove(in, text, sizeof text - 1);
	CHECK_EQ_STR(text, cmd);
	CHECK(!(p.events & BEV_EVENT_ERROR));
	deflateEnd(&z);
	pipe_close(&p);
}

TEST(deflate_a_broken_stream_yields_nothing_after_it)
{
	struct pipe p;
	CHECK(pipe_open(&p));
	/* Block type 3 does not exist in deflate (RFC 1951): the stream is broken, and what
	 * follows (a valid stream of its own) is not read as commands either. */
	static const unsigned char bad[] = { 0xff, 0xff, 0xff, 0xff };
	bufferevent_write(p.client, bad, sizeof bad);
	pipe_run(&p);
	z_stream z = { 0 };
	CHECK_EQ_INT(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	unsigned char wire[64];
	z.next_in = (unsigned char *)"a1 NOOP\r\n";
	z.avail_in = 9;
	z.next_out = wire;
	z.avail_out = sizeof wire;
	CHECK_EQ_INT(deflate(&z, Z_SYNC_FLUSH), Z_OK);
	bufferevent_write(p.client, wire, sizeof wire - z.avail_out);
	pipe_run(&p);
	CHECK_EQ_INT(evbuffer_get_length(bufferevent_get_input(p.server)), 0);
	deflateEnd(&z);
	pipe_close(&p);
}
