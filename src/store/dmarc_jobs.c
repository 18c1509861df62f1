/* DMARC report jobs: reading the reports that arrive, counting what inbound checks saw. */
#include "store/dmarc_jobs.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/spool.h"
#include "store/store.h"

bool dmarc_report_address(const struct config *cfg, const char *address)
{
	const char *want = cfg->dmarc_report_address;
	const char *at = strrchr(address, '@');
	size_t n = strlen(want);
	return n && at && (size_t)(at - address) == n && strncasecmp(address, want, n) == 0;
}

struct dmarc_ingest {
	struct committer *worker, *writer;
	size_t inflight;
};

struct dmarc_ingest *dmarc_ingest_new(struct committer *worker, struct committer *writer)
{
	struct dmarc_ingest *in = xcalloc(1, sizeof *in);
	in->worker = worker;
	in->writer = writer;
	return in;
}

void dmarc_ingest_free(struct dmarc_ingest *in)
{
	free(in);
}

struct parse_job {
	struct store_job job;
	struct dmarc_ingest *in;
	char *data;
	size_t len;
	struct spool_bytes *spool;
	struct dmarc_report report;
	bool parsed;
	struct buf err;
};

struct insert_job {
	struct store_job job;
	struct dmarc_report report;
	bool ok;
	struct buf err;
};

static void insert_run(struct store *s, struct store_job *job)
{
	struct insert_job *j = (struct insert_job *)job;
	j->ok = s->ops->dmarc_report_add(s, &j->report, clock_now(), &j->err);
}

static void insert_done(struct store_job *job)
{
	struct insert_job *j = (struct insert_job *)job;
	if (j->ok && !job->lost)
		log_info("event=dmarc-report-stored org=%s report_id=%s domain=%s records=%zu",
			 log_str(j->report.org_name), log_str(j->report.report_id),
			 log_str(j->report.domain), j->report.nrecords);
	else
		log_warn("event=dmarc-report-not-stored org=%s report_id=%s error=%s",
			 log_str(j->report.org_name), log_str(j->report.report_id),
			 log_qstr(job->lost ? "the transaction was lost" : j->err.data));
	dmarc_report_free(&j->report);
	buf_free(&j->err);
	free(j);
}

static void parse_run(struct store *s, struct store_job *job)
{
	(void)s;
	struct parse_job *j = (struct parse_job *)job;
	const char *data = j->spool ? j->spool->data : j->data;
	size_t len = j->spool ? j->spool->len : j->len;
	j->parsed = dmarc_report_from_message(data, len, &j->report, &j->err);
}

static void parse_done(struct store_job *job)
{
	struct parse_job *j = (struct parse_job *)job;
	j->in->inflight--;
	if (j->spool)
		spool_bytes_free(&j->spool);
	free(j->data);
	if (j->parsed) {
		struct insert_job *ins = xcalloc(1, sizeof *ins);
		ins->job.run = insert_run;
		ins->job.done = insert_done;
		ins->job.ctx = j->in;
		ins->job.group = true;
		ins->job.what = "DMARC report stored";
		ins->report = j->report;
		committer_submit_job(j->in->writer, &ins->job);
	} else {
		log_warn("event=dmarc-report-unreadable error=%s", log_qstr(j->err.data));
	}
	buf_free(&j->err);
	free(j);
}

void dmarc_ingest_take(void *arg, char *data, size_t len, struct spool_bytes *spool)
{
	struct dmarc_ingest *in = arg;
	if (in->inflight >= DMARC_INGEST_MAX_INFLIGHT) {
		log_warn("event=dmarc-report-skipped reason=\"%d reports are being read already; this "
			 "one stays in the mailbox unread\"", DMARC_INGEST_MAX_INFLIGHT);
		if (spool)
			spool_bytes_free(&spool);
		free(data);
		return;
	}
	in->inflight++;
	struct parse_job *j = xcalloc(1, sizeof *j);
	j->job.run = parse_run;
	j->job.done = parse_done;
	j->job.ctx = in;
	j->job.what = "DMARC report read";
	j->in = in;
	j->spool = spool;
	j->data = spool ? NULL : data;
	j->len = len;
	committer_submit_job(in->worker, &j->job);
}

struct observe_job {
	struct store_job job;
	struct dmarc_observation o;
	char *strings[18]; /* copies of the observation's strings */
	bool ok;
	struct buf err;
};

static void observe_run(struct store *s, struct store_job *job)
{
	struct observe_job *j = (struct observe_job *)job;
	j->ok = s->ops->dmarc_observe(s, &j->o, &j->err);
}

static void observe_done(struct store_job *job)
{
	struct observe_job *j = (struct observe_job *)job;
	if (!j->ok || job->lost)
		log_warn("event=dmarc-observation-lost domain=%s error=%s",
			 log_str(j->o.policy_domain), log_qstr(job->lost ? "transaction lost"
									 : j->err.data));
	for (size_t i = 0; i < sizeof j->strings / sizeof j->strings[0]; i++)
		free(j->strings[i]);
	buf_free(&j->err);
	free(j);
}

void dmarc_observe(struct committer *writer, const struct config *cfg,
		   const struct dmarc_observation *o)
{
	if (strcmp(cfg->dmarc_reports, "on") != 0 || !o->rua || !o->rua[0] || !o->policy_domain)
		return;
	struct observe_job *j = xcalloc(1, sizeof *j);
	j->job.run = observe_run;
	j->job.done = observe_done;
	j->job.ctx = writer;
	j->job.group = true;
	j->job.what = "DMARC observation";
	j->o = *o;
	const char **fields[] = {
		&j->o.source_ip, &j->o.header_from, &j->o.envelope_from, &j->o.policy_domain,
		&j->o.p, &j->o.sp, &j->o.adkim, &j->o.aspf, &j->o.rua, &j->o.disposition,
		&j->o.dkim_aligned, &j->o.spf_aligned, &j->o.dkim_domain, &j->o.dkim_selector,
		&j->o.dkim_result, &j->o.spf_domain, &j->o.spf_scope, &j->o.spf_result,
	};
	_Static_assert(sizeof fields / sizeof fields[0] == sizeof j->strings / sizeof j->strings[0],
		       "one copy per string field");
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (*fields[i])
			*fields[i] = j->strings[i] = xstrdup(*fields[i]);
	if (!j->o.time)
		j->o.time = clock_now();
	committer_submit_job(writer, &j->job);
}
