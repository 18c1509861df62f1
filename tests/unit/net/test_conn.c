/* The server side of a connection (net/conn.c): lines through the bounded reader, output
 * back-pressure, and giving the bufferevent back while idle. Plaintext over a socketpair. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/linereader.h"
#include "net/conn.h"
#include "test.h"

TEST(conn_read_line_whole_split_and_too_long)
{
	struct evbuffer *in = evbuffer_new();
	struct line_reader lr;
	line_reader_init(&lr, 16);
	char *line = NULL;
	size_t len = 0;
	evbuffer_add(in, "HELO a\r\nNO", 10);
	CHECK_EQ_INT(conn_read_line(in, &lr, &line, &len), CONN_LINE_OK);
	CHECK_EQ_STR(line, "HELO a");
	CHECK_EQ_INT(len, 6);
	free(line);
	/* Half a line stays buffered until its end comes; a bare LF ends a line too. */
	CHECK_EQ_INT(conn_read_line(in, &lr, &line, &len), CONN_LINE_NONE);
	CHECK_EQ_INT(evbuffer_get_length(in), 2);
	evbuffer_add(in, "OP\n", 3);
	CHECK_EQ_INT(conn_read_line(in, &lr, &line, &len), CONN_LINE_OK);
	CHECK_EQ_STR(line, "NOOP");
	free(line);
	CHECK_EQ_INT(conn_read_line(in, &lr, &line, &len), CONN_LINE_NONE);
	/* 40 bytes without a line feed: reported once, and never held beyond the limit. */
	char x[40];
	memset(x, 'x', sizeof x);
	evbuffer_add(in, x, sizeof x);
	CHECK_EQ_INT(conn_read_line(in, &lr, &line, &len), CONN_LINE_TOO_LONG);
	CHECK(evbuffer_get_length(in) < sizeof x);
	CHECK_EQ_INT(conn_read_line(in, &lr, &line, &len), CONN_LINE_NONE);
	CHECK_EQ_INT(evbuffer_get_length(in), 0);
	/* Its tail is skipped through its line feed; the next line is read as usual. */
	evbuffer_add(in, "xxxx\r\nQUIT\r\n", 12);
	CHECK_EQ_INT(conn_read_line(in, &lr, &line, &len), CONN_LINE_OK);
	CHECK_EQ_STR(line, "QUIT");
	free(line);
	CHECK_EQ_INT(evbuffer_get_length(in), 0);
	evbuffer_free(in);
}

TEST(conn_output_full_stops_reading)
{
	struct event_base *base = event_base_new();
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct bufferevent *bev = conn_open(base, sv[0], NULL);
	bufferevent_enable(bev, EV_READ);
	/* Without running the loop nothing leaves the output buffer. */
	static char block[CONN_OUTPUT_HIGH_WATER];
	evbuffer_add(bufferevent_get_output(bev), block, sizeof block);
	CHECK(!conn_output_full(bev));
	CHECK(bufferevent_get_enabled(bev) & EV_READ);
	evbuffer_add(bufferevent_get_output(bev), "x", 1);
	CHECK(conn_output_full(bev));
	CHECK(!(bufferevent_get_enabled(bev) & EV_READ));
	conn_free(bev, NULL, false);
	close(sv[0]);
	close(sv[1]);
	event_base_free(base);
}

/* Runs the loop until bev has input (want_input) or has sent all its output. */
static void run_until(struct event_base *base, struct bufferevent *bev, bool want_input)
{
	for (int i = 0; i < 1000; i++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (want_input ? evbuffer_get_length(bufferevent_get_input(bev)) > 0
			       : evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			return;
		usleep(1000);
	}
}

TEST(conn_sleeps_only_when_idle_and_wakes_on_the_same_socket)
{
	struct event_base *base = event_base_new();
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct bufferevent *bev = conn_open(base, sv[0], NULL);
	bufferevent_enable(bev, EV_READ);
	CHECK(conn_can_sleep(bev, false));
	/* A reply still to send, a request still to read, or reading paused: stay awake. */
	bufferevent_write(bev, "* OK\r\n", 6);
	CHECK(!conn_can_sleep(bev, false));
	run_until(base, bev, false);
	char reply[16];
	CHECK_EQ_INT(read(sv[1], reply, sizeof reply), 6);
	CHECK(conn_can_sleep(bev, false));
	CHECK_EQ_INT(write(sv[1], "a", 1), 1);
	run_until(base, bev, true);
	CHECK(!conn_can_sleep(bev, false));
	evbuffer_drain(bufferevent_get_input(bev), 1);
	CHECK(conn_can_sleep(bev, false));
	bufferevent_disable(bev, EV_READ);
	CHECK(!conn_can_sleep(bev, false));
	bufferevent_enable(bev, EV_READ);
	CHECK(conn_can_sleep(bev, false));

	/* Asleep, the socket stays open; what the client sends meanwhile is read after waking. */
	CHECK(conn_sleep(bev, false) == NULL);
	CHECK_EQ_INT(write(sv[1], "NOOP\r\n", 6), 6);
	bev = conn_wake(base, sv[0], NULL);
	bufferevent_enable(bev, EV_READ);
	struct line_reader lr;
	line_reader_init(&lr, 100);
	char *line = NULL;
	size_t len;
	run_until(base, bev, true);
	enum conn_line got = conn_read_line(bufferevent_get_input(bev), &lr, &line, &len);
	CHECK_EQ_INT(got, CONN_LINE_OK);
	CHECK_EQ_STR(got == CONN_LINE_OK ? line : "", "NOOP");
	free(line);
	conn_free(bev, NULL, false);
	close(sv[0]);
	close(sv[1]);
	event_base_free(base);
}
