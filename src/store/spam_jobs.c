#include "store/spam_jobs.h"

#include <stdlib.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "store/store.h"

struct count_job {
	struct store_job job;
	int64_t day;
	const char *outcome;
	bool ok;
	struct buf err;
};

static void count_run(struct store *s, struct store_job *job)
{
	struct count_job *j = (struct count_job *)job;
	j->ok = s->ops->spam_count(s, j->day, j->outcome, &j->err);
}

static void count_done(struct store_job *job)
{
	struct count_job *j = (struct count_job *)job;
	if (!j->ok || job->lost)
		log_warn("event=spam-count-lost outcome=%s error=%s", j->outcome,
			 log_qstr(job->lost ? "transaction lost" : j->err.data));
	buf_free(&j->err);
	free(j);
}

void spam_count_outcome(struct committer *writer, const char *outcome)
{
	struct count_job *j = xcalloc(1, sizeof *j);
	j->job.run = count_run;
	j->job.done = count_done;
	j->job.ctx = writer;
	j->job.group = true;
	j->job.what = "spam count";
	j->day = clock_now() / 86400;
	j->outcome = outcome;
	committer_submit_job(writer, &j->job);
}
