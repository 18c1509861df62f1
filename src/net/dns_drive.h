/* Drives an evaluator that asks one DNS question at a time and never does I/O itself (SPF's
 * check_host(), DMARC's policy lookup) on the shared resolver, within a deadline: each
 * question becomes one dns_query(), each answer goes back to the evaluator, and when the
 * deadline passes the question in flight and every later one are answered DNS_TEMPFAIL. */
#ifndef YUBIN_NET_DNS_DRIVE_H
#define YUBIN_NET_DNS_DRIVE_H
#include <event2/event.h>
#include <stdbool.h>

#include "net/dns.h"

struct dns_drive_ops {
	/* The next question, or false when the evaluator has its result. */
	bool (*next)(void *ev, const char **name, int *rrtype);
	/* The answer to the question next() returned last (rr NULL and n 0 for DNS_TEMPFAIL
	 * after the deadline). */
	void (*answer)(void *ev, enum dns_status st, const struct dns_rdata *rr, size_t n,
		       const char *why);
	/* Called once when next() says done; the drive is gone after it returns. */
	void (*done)(void *ev);
};

struct dns_drive;

/* Returns the drive, valid until done() is called; NULL when done() was called before this
 * returned. dns_drive_cancel() before done() drops it (and its query in flight) silently. */
struct dns_drive *dns_drive_start(struct event_base *base, struct dns_resolver *r,
				  const struct dns_drive_ops *ops, void *ev, int timeout_ms);
void dns_drive_cancel(struct dns_drive *d);

#endif
