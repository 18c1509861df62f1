/* Finding the receiving server of one delivery, Postfix's smtp_connect.c in spirit: the MX
 * records in order (or the domain itself without any, or the smarthost instead), each MX's
 * addresses in order, an idle connection to an address before a new one. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/alloc.h"
#include "lib/log.h"
#include "net/dns.h"
#include "outbound/agent_internal.h"

static void attempt_try_address(struct attempt *a);

/* This address did not work: remember why and go on with the next. */
void attempt_next_address(struct attempt *a, const char *why)
{
	free(a->last_error);
	a->last_error = xstrdup(why);
	log_info("event=outbound-try-failed queue=%lld host=%s addr=%s error=%s",
		 (long long)a->e.id, log_str(a->host),
		 a->addr_i < a->naddrs ? a->addrs[a->addr_i] : "-", log_qstr(why));
	link_close(a->link);
	a->addr_i++;
	attempt_try_address(a);
}

/* The link of a stopped working (closed, timed out, spoke nonsense) during the dialogue. */
void attempt_link_failed(struct attempt *a, const char *why)
{
	if (a->state >= A_BODY) {
		/* After the final dot there may have been a delivery we never heard of: counting
		 * it as a failure keeps mail safe (at worst it arrives twice). */
		attempt_set_pending(a, 451, "451 4.4.2 connection lost after the message was sent",
				    "4.4.2");
		link_close(a->link);
		attempt_finish(a);
		return;
	}
	attempt_forget_accepted(a);
	if (a->reused) {
		/* A kept connection the server has given up on (its idle timeout): not the
		 * destination's fault; once more on a new connection. */
		log_info("event=outbound-reuse-failed queue=%lld host=%s error=%s",
			 (long long)a->e.id, log_str(a->host), log_qstr(why));
		link_close(a->link);
		a->reused = false;
		a->fresh_only = true;
		if (a->naddrs > 0)
			attempt_try_address(a);
		else
			attempt_resolve(a);
		return;
	}
	attempt_next_address(a, why);
}

void attempt_clear_addrs(struct attempt *a)
{
	for (size_t i = 0; i < a->naddrs; i++)
		free(a->addrs[i]);
	free(a->addrs);
	a->addrs = NULL;
	a->naddrs = 0;
	a->addr_i = 0;
}

static void addrs_answer(void *ctx, enum dns_status st, char **addrs, size_t n, const char *why)
{
	struct attempt *a = ctx;
	attempt_clear_addrs(a);
	if (st == DNS_OK) {
		a->addrs = xcalloc(n, sizeof *a->addrs);
		for (size_t i = 0; i < n; i++)
			a->addrs[i] = xstrdup(addrs[i]);
		a->naddrs = n;
	} else {
		char text[400];
		snprintf(text, sizeof text, "no address for %s (%s)", a->host, why);
		free(a->last_error);
		a->last_error = xstrdup(text);
		if (a->implicit_mx && st == DNS_NONE) {
			attempt_fail_all(a, 550, "5.1.2",
					 "the domain has no mail server (no MX and no address)");
			return;
		}
	}
	attempt_try_address(a);
}

/* Connects to the current address (or a kept connection to it), or moves to the next MX when
 * this one has none left. */
static void attempt_try_address(struct attempt *a)
{
	while (a->addr_i >= a->naddrs) {
		if (a->naddrs > 0 || a->host[0]) {
			/* This MX is used up. */
			a->mx_i++;
			attempt_clear_addrs(a);
		}
		if (a->mx_i >= a->nmx) {
			char text[600];
			snprintf(text, sizeof text, "could not reach any mail server of %s (%s)",
				 a->e.domain, a->last_error ? a->last_error : "no server");
			attempt_set_pending(a, 451, text, "4.4.1");
			for (size_t i = 0; i < a->e.nrcpts; i++)
				if (a->results[i].code == 451)
					snprintf(a->results[i].status, sizeof a->results[i].status, "4.4.1");
			attempt_finish(a);
			return;
		}
		snprintf(a->host, sizeof a->host, "%s", a->mx[a->mx_i].host);
		a->state = A_RESOLVING;
		dns_lookup_addrs(a->ob->dns, a->host, addrs_answer, a);
		return;
	}
	const char *ip = a->addrs[a->addr_i];
	struct link *kept =
		a->fresh_only ? NULL : link_idle_for_addr(a->ob, ip, a->port, a->smarthost);
	if (kept) {
		/* Another domain's connection to this very server (a shared MX): use it. */
		attempt_use_link(a, kept);
		return;
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t sslen;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)a->port);
		sslen = sizeof *in4;
	} else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)a->port);
		sslen = sizeof *in6;
	} else {
		attempt_next_address(a, "bad address");
		return;
	}
	if (!link_connect(a, ip, (struct sockaddr *)&ss, sslen))
		attempt_next_address(a, "the connection failed");
}

static void mx_answer(void *ctx, enum dns_status st, const struct dns_mx *mx, size_t n,
		      const char *why)
{
	struct attempt *a = ctx;
	if (st == DNS_TEMPFAIL) {
		char text[300];
		snprintf(text, sizeof text, "451 4.4.3 DNS lookup of %s failed: %s", a->e.domain, why);
		attempt_set_pending(a, 451, text, "4.4.3");
		attempt_finish(a);
		return;
	}
	if (st == DNS_OK && n == 1 && mx[0].host[0] == '\0') {
		attempt_fail_all(a, 556, "5.1.10",
				 "the domain does not accept mail (null MX, RFC 7505)");
		return;
	}
	free(a->mx);
	if (st == DNS_OK) {
		a->mx = xcalloc(n, sizeof *a->mx);
		memcpy(a->mx, mx, n * sizeof *mx);
		a->nmx = n;
	} else {
		/* No MX: the domain itself is the mail server (RFC 5321 5.1). */
		a->mx = xcalloc(1, sizeof *a->mx);
		snprintf(a->mx[0].host, sizeof a->mx[0].host, "%s", a->e.domain);
		a->nmx = 1;
		a->implicit_mx = true;
	}
	a->mx_i = 0;
	attempt_clear_addrs(a);
	snprintf(a->host, sizeof a->host, "%s", a->mx[0].host);
	a->state = A_RESOLVING;
	dns_lookup_addrs(a->ob->dns, a->host, addrs_answer, a);
}

/* Finds the servers for the entry's domain: the smarthost, or the MX records. */
void attempt_resolve(struct attempt *a)
{
	struct outbound *ob = a->ob;
	attempt_clear_addrs(a);
	free(a->mx);
	a->mx = NULL;
	a->nmx = a->mx_i = 0;
	a->port = (int)cfg(ob)->outbound_port;
	a->state = A_RESOLVING;
	if (!a->smarthost) {
		dns_lookup_mx(ob->dns, a->e.domain, mx_answer, a);
		return;
	}
	/* The relay stands in for every MX of the domain. */
	char host[256];
	int port = 587;
	snprintf(host, sizeof host, "%s", cfg(ob)->smarthost);
	char *colon = strrchr(host, ':');
	if (colon && !strchr(colon, ']')) {
		*colon = '\0';
		port = atoi(colon + 1);
	}
	a->port = port;
	a->mx = xcalloc(1, sizeof *a->mx);
	snprintf(a->mx[0].host, sizeof a->mx[0].host, "%s", host);
	a->nmx = 1;
	snprintf(a->host, sizeof a->host, "%s", host);
	struct in_addr v4;
	struct in6_addr v6;
	if (inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1) {
		char *addr = host;
		addrs_answer(a, DNS_OK, &addr, 1, NULL);
	} else {
		dns_lookup_addrs(ob->dns, host, addrs_answer, a);
	}
}
