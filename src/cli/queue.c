/* yubin queue: what waits to go to other domains, and why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "mime/mime.h"

static void format_time(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static bool print_entry(void *ctx, const struct queue_entry *e)
{
	char next[40];
	format_time(e->next_attempt, next, sizeof next);
	printf("%lld\t%s\t<%s>\t", (long long)e->id, e->domain, e->sender);
	for (size_t i = 0; i < e->nrcpts; i++)
		printf("%s%s", i ? "," : "", e->rcpts[i]);
	printf("\t%lld\t%s\t%s\n", (long long)e->attempts, next,
	       e->last_reply ? e->last_reply : "not tried yet");
	return true;
}

static int64_t parse_id(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	return *end || v <= 0 ? -1 : (int64_t)v;
}

int cmd_queue(struct cli *c)
{
	const char *sub = c->argc > 0 ? c->argv[0] : "";
	struct store *s = cli_open_store(c);
	struct buf err = BUF_INIT;
	int rc = 0;
	int64_t id = c->argc == 2 ? parse_id(c->argv[1]) : 0;
	if (c->argc == 2 && id < 0) {
		cli_error("\"%s\" is not a queue entry number (see yubin queue list)", c->argv[1]);
		rc = 2;
	} else if (strcmp(sub, "list") == 0 && c->argc == 1) {
		s->ops->queue_all(s, print_entry, NULL);
	} else if (strcmp(sub, "show") == 0 && c->argc == 2) {
		struct queue_entry e;
		if (!s->ops->queue_get(s, id, &e)) {
			cli_error("no queue entry %lld", (long long)id);
			rc = 1;
		} else {
			char created[40], next[40];
			format_time(e.created, created, sizeof created);
			format_time(e.next_attempt, next, sizeof next);
			printf("id: %lld\ndomain: %s\nfrom: <%s>\n", (long long)e.id, e.domain, e.sender);
			for (size_t i = 0; i < e.nrcpts; i++)
				printf("to: <%s>\n", e.rcpts[i]);
			printf("queued: %s\nattempts: %lld\nnext attempt: %s\ndelay warning sent: %s\n"
			       "last: %s\n", created, (long long)e.attempts, next, e.warned ? "yes" : "no",
			       e.last_reply ? e.last_reply : "not tried yet");
			struct buf msg = BUF_INIT;
			if (s->ops->queue_message(s, id, &msg)) {
				printf("\n");
				fwrite(msg.data, 1, mime_header_block_size(msg.data ? msg.data : "", msg.len),
				       stdout);
			}
			buf_free(&msg);
			queue_entry_free(&e);
		}
	} else if ((strcmp(sub, "retry") == 0 && c->argc == 2) ||
		   (strcmp(sub, "flush") == 0 && c->argc == 1)) {
		if (!s->ops->queue_retry(s, id, clock_now()) && id) {
			cli_error("no queue entry %lld", (long long)id);
			rc = 1;
		} else {
			printf("%s will be tried again within a second (if the server is running)\n",
			       id ? "the entry" : "every entry");
		}
	} else if (strcmp(sub, "delete") == 0 && c->argc == 2) {
		if (!s->ops->queue_delete(s, id, &err)) {
			cli_error("%s", err.data);
			rc = 1;
		} else {
			printf("deleted queue entry %lld (no bounce was sent)\n", (long long)id);
		}
	} else {
		cli_error("usage: yubin queue list | show ID | retry ID | flush | delete ID --data DIR");
		rc = 2;
	}
	s->ops->close(s);
	buf_free(&err);
	return rc;
}
