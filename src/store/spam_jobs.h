/* The outcome of every inbound message the spam filter had a say in, counted per UTC day in
 * the store by the writer (grouped with the deliveries around it: no fsync of its own), so
 * `yubin spam status` shows what the filter did across restarts. */
#ifndef YUBIN_STORE_SPAM_JOBS_H
#define YUBIN_STORE_SPAM_JOBS_H
#include "store/committer.h"

/* outcome: a constant string (clean, junk, rejected, virus, tempfail, unscanned, blocked,
 * off). Event-loop thread. */
void spam_count_outcome(struct committer *writer, const char *outcome);

#endif
