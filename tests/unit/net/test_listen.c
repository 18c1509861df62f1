/* Listening sockets and the text of peer addresses (net/listen.c), on loopback only. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/listen.h"
#include "test.h"

static int bound_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		return -1;
	return ntohs(sin.sin_port);
}

TEST(listen_accepts_on_loopback_non_blocking_and_close_on_exec)
{
	struct buf err = BUF_INIT;
	int fd = net_listen("127.0.0.1", 0, &err);
	CHECK(fd >= 0);
	if (fd < 0) {
		printf("  %s\n", err.data ? err.data : "");
		buf_free(&err);
		return;
	}
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	int port = bound_port(fd);
	CHECK(port > 0);
	/* Nobody waiting: accept must not block. */
	CHECK(accept(fd, NULL, NULL) < 0);

	int client = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	CHECK(connect(client, (struct sockaddr *)&to, sizeof to) == 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	CHECK(poll(&p, 1, 5000) == 1);
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	int conn = accept(fd, (struct sockaddr *)&peer, &plen);
	CHECK(conn >= 0);
	char text[64] = "";
	if (conn >= 0)
		net_addr_text((struct sockaddr *)&peer, text, sizeof text);
	CHECK_EQ_STR(text, "127.0.0.1");

	/* The port is taken while we listen; the error says so in words. */
	buf_reset(&err);
	int again = net_listen("127.0.0.1", port, &err);
	CHECK_EQ_INT(again, -1);
	CHECK(err.data && strstr(err.data, "another program uses this port") != NULL);
	if (again >= 0)
		close(again);
	if (conn >= 0)
		close(conn);
	close(client);
	close(fd);
	buf_free(&err);
}

TEST(listen_takes_numeric_addresses_only)
{
	struct buf err = BUF_INIT;
	CHECK_EQ_INT(net_listen("localhost", 0, &err), -1);
	CHECK(err.data && strstr(err.data, "\"localhost\" is not an IP address") != NULL);
	buf_reset(&err);
	CHECK_EQ_INT(net_listen("127.0.0.256", 0, &err), -1);
	CHECK(err.data && strstr(err.data, "is not an IP address") != NULL);
	buf_free(&err);
}

TEST(addr_text_v4_v6_and_v4_mapped)
{
	char out[64];
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	inet_pton(AF_INET, "198.51.100.3", &v4.sin_addr);
	net_addr_text((struct sockaddr *)&v4, out, sizeof out);
	CHECK_EQ_STR(out, "198.51.100.3");
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
	net_addr_text((struct sockaddr *)&v6, out, sizeof out);
	CHECK_EQ_STR(out, "2001:db8::1");
	/* An IPv4 client on an IPv6 socket is logged and matched as its IPv4 address. */
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &v6.sin6_addr);
	net_addr_text((struct sockaddr *)&v6, out, sizeof out);
	CHECK_EQ_STR(out, "192.0.2.7");
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	net_addr_text((struct sockaddr *)&un, out, sizeof out);
	CHECK_EQ_STR(out, "unknown");
}
