/* DMARC aggregate reports through the store's threads: a report that arrived for
 * dmarc-reports@ is parsed on a worker (never the event loop: decompressing and parsing grow
 * with the report) and its records stored by the writer; and what the inbound checks saw of a
 * message is counted by the writer for the reports we send. */
#ifndef YUBIN_STORE_DMARC_JOBS_H
#define YUBIN_STORE_DMARC_JOBS_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"
#include "mailauth/dmarc_report.h"
#include "store/committer.h"

/* Reports parsed at the same time at most; more are delivered but not read (logged). */
#define DMARC_INGEST_MAX_INFLIGHT 8

/* Is address (local@domain, one of ours) where reports arrive: its local part is the
 * dmarc-report-address setting (case-insensitive; "" turns reading reports off)? */
bool dmarc_report_address(const struct config *cfg, const char *address);

struct dmarc_ingest;
/* worker parses, writer stores. Event-loop thread. */
struct dmarc_ingest *dmarc_ingest_new(struct committer *worker, struct committer *writer);
void dmarc_ingest_free(struct dmarc_ingest *in);
/* The committer's report sink (committer_set_report_sink): takes a delivered message's
 * bytes (data, or spool when set) and reads it on the worker. */
void dmarc_ingest_take(void *in, char *data, size_t len, struct spool_bytes *spool);

/* Counts one inbound message's DMARC outcome for the reports we send: a grouped writer job,
 * nothing when the dmarc-reports setting is off or o->rua is empty. Copies what it needs;
 * o may go away on return. Event-loop thread. */
void dmarc_observe(struct committer *writer, const struct config *cfg,
		   const struct dmarc_observation *o);

#endif
