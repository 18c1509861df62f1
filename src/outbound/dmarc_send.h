/* Sending our DMARC aggregate reports (RFC 7489 7.2; setting dmarc-reports = on): for every
 * domain whose DMARC record asked for reports (rua=) and whose mail we saw, once a UTC day,
 * build the XML from the store's observations, gzip it and queue a message to the rua
 * addresses through the normal queue. Three steps, none on the event loop but the DNS:
 *   1. the report worker reads the observations and builds each report;
 *   2. the loop checks RFC 7489 7.1 external destinations with the asynchronous resolver:
 *      a rua address outside the policy domain's organizational domain is used only when
 *      <policy-domain>._report._dmarc.<rua-domain> has a "v=DMARC1" TXT record;
 *   3. the writer queues each report and forgets its observations in one transaction. */
#ifndef YUBIN_OUTBOUND_DMARC_SEND_H
#define YUBIN_OUTBOUND_DMARC_SEND_H
#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/dns.h"
#include "store/committer.h"

#define DMARC_SEND_MAX_DOMAINS 200   /* reports built per run; the rest wait for the next */
#define DMARC_SEND_MAX_RECORDS 10000 /* rows per report, the largest counts first */
#define DMARC_SEND_MAX_RUA 4         /* addresses per report (RFC 7489 6.2 lets us limit) */

struct dmarc_send_params {
	struct event_base *base;
	struct dns_resolver *dns;    /* NULL: external destinations are skipped */
	struct committer *worker, *writer;
	const char *hostname;        /* org_name, Submitter */
	const char *from;            /* dmarc-reports@ our first domain: From and envelope */
	int64_t now;
	bool include_today;          /* also today's observations (yubin report dmarc --send-now) */
	/* In the loop thread when done: reports queued, and reports that had no usable address
	 * (their observations are dropped all the same, so a bad rua= does not pile up rows). */
	void (*done)(void *ctx, size_t queued, size_t dropped);
	void *ctx;
};

/* Starts a run (strings are copied). */
void dmarc_send_run(const struct dmarc_send_params *p);

/* The message for one report: From, To (the addresses, comma separated), Subject and file
 * name as RFC 7489 7.2.1.1 asks, the gzip'd XML as an application/gzip attachment. Pure. */
void dmarc_send_message(const char *from, const char *to, const char *hostname,
			const char *domain, const char *report_id, int64_t begin, int64_t end,
			const char *gz, size_t gz_len, int64_t now, struct buf *out);

#endif
