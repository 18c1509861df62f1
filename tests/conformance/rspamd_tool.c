/* Driver for the rspamd client (src/spam/rspamd.c), run by tests/integration/test_rspamd.py
 * against a private rspamd and against fake servers. It runs the client on an event loop as
 * the server does and prints what the client hands its caller, one line per scan
 * (tab-separated; tabs and line breaks in fields become spaces):
 *   RESULT <action> <score> <required> <virus|-> <smtp_message|-> <symbols> <headers> <ms> VERDICT
 *   ERROR <sentence> <ms> VERDICT
 * where VERDICT is what spam_verdict_make (src/spam/verdict.c) makes of it:
 *   <deliver|junk|reject|tempfail> <what> <SMTP reply|-> <headers, CRLF shown as |>
 *   CANCELLED <ms>
 * then "STATS scans=N errors=N timeouts=N cancelled=N". The loop runs until nothing is left
 * on it, so a request or timer the client forgot would hang the tool (the test's timeout).
 *
 *   rspamd-tool scan URL [--timeout-ms N] [--count N] [--cancel-after-ms N] [--tempfail 1] [--ip A]
 *               [--helo H] [--from F] [--rcpt R]... [--hostname H] [--queue-id Q] FILE
 *   rspamd-tool learn spam|ham CONTROLLER_URL [--password P] [--rcpt R] FILE
 *   rspamd-tool parse FILE       (an answer saved to a file, through rspamd_reply_parse)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "spam/rspamd.h"
#include "spam/verdict.h"

static struct timespec t0;
static bool tempfail_when_unavailable;

static long ms_since_start(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
}

static void put_field(const char *s)
{
	putchar('\t');
	if (!s) {
		putchar('-');
		return;
	}
	for (; *s; s++)
		putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

static void print_result(const struct rspamd_result *r)
{
	printf("RESULT");
	put_field(rspamd_action_name(r->action));
	printf("\t%.2f\t%.2f", r->score, r->required_score);
	put_field(r->virus);
	put_field(r->smtp_message);
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < r->nsymbols; i++)
		buf_printf(&b, "%s%s(%.2f)", i ? "," : "", r->symbols[i].name, r->symbols[i].score);
	put_field(b.len ? b.data : "-");
	buf_reset(&b);
	for (size_t i = 0; i < r->nadd_headers; i++)
		buf_printf(&b, "%s%s=%s", i ? ";" : "", r->add_headers[i].name,
			   r->add_headers[i].value);
	put_field(b.len ? b.data : "-");
	buf_free(&b);
}

static void read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
}

struct job {
	struct rspamd_scan *scan;
	struct event *cancel;
	bool done;
};

static void on_scan(void *ctx, struct rspamd_result *r, const char *error)
{
	struct job *j = ctx;
	if (j->done) {
		printf("BUG\tcallback after cancel or twice\n");
		exit(3);
	}
	j->done = true;
	if (r)
		print_result(r);
	else
		printf("ERROR\t%s", error);
	printf("\t%ld", ms_since_start());
	static const char *const disp[] = { "deliver", "junk", "reject", "tempfail" };
	struct spam_verdict v;
	struct spam_options opts = { .tempfail_when_unavailable = tempfail_when_unavailable };
	spam_verdict_make(&v, r, error, &opts);
	printf("\t%s\t%s", disp[v.disposition], v.what);
	put_field(v.reply[0] ? v.reply : NULL);
	putchar('\t');
	for (size_t i = 0; i < v.headers.len; i++) {
		char ch = v.headers.data[i];
		if (ch == '\r' && i + 1 < v.headers.len && v.headers.data[i + 1] == '\n') {
			putchar('|');
			i++;
		} else {
			putchar(ch == '\t' ? ' ' : ch);
		}
	}
	putchar('\n');
	spam_verdict_free(&v);
	fflush(stdout);
	if (j->cancel)
		event_del(j->cancel);
}

static void on_cancel(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	if (j->done)
		return;
	rspamd_scan_cancel(j->scan);
	j->done = true;
	printf("CANCELLED\t%ld\n", ms_since_start());
	fflush(stdout);
}

static int usage(void)
{
	fprintf(stderr, "usage: rspamd-tool scan URL [options] FILE | learn spam|ham URL "
			"[--password P] [--rcpt R] FILE | parse FILE\n");
	return 2;
}

static int run_scan(int argc, char **argv)
{
	struct rspamd_client_settings set = { .url = argv[2], .timeout_ms = 10000 };
	struct rspamd_envelope env = { 0 };
	const char **rcpts = xcalloc((size_t)argc, sizeof *rcpts);
	int count = 1, cancel_ms = -1, i = 3;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		if (strcmp(o, "--timeout-ms") == 0)
			set.timeout_ms = atoi(v);
		else if (strcmp(o, "--count") == 0)
			count = atoi(v);
		else if (strcmp(o, "--cancel-after-ms") == 0)
			cancel_ms = atoi(v);
		else if (strcmp(o, "--tempfail") == 0)
			tempfail_when_unavailable = atoi(v) != 0;
		else if (strcmp(o, "--ip") == 0)
			env.ip = v;
		else if (strcmp(o, "--helo") == 0)
			env.helo = v;
		else if (strcmp(o, "--from") == 0)
			env.mail_from = v;
		else if (strcmp(o, "--rcpt") == 0)
			rcpts[env.nrcpts++] = v;
		else if (strcmp(o, "--hostname") == 0)
			env.hostname = v;
		else if (strcmp(o, "--queue-id") == 0)
			env.queue_id = v;
		else
			break;
	}
	if (i + 1 != argc || count < 1) {
		free(rcpts);
		return usage();
	}
	env.rcpts = rcpts;
	struct buf msg = BUF_INIT;
	read_file(argv[i], &msg);
	struct event_base *base = event_base_new();
	struct buf err = BUF_INIT;
	struct rspamd_client *c = rspamd_client_new(base, &set, &err);
	if (!c) {
		printf("CONFIG\t%s\n", err.data);
		event_base_free(base);
		buf_free(&msg);
		buf_free(&err);
		free(rcpts);
		return 1;
	}
	struct job *jobs = xcalloc((size_t)count, sizeof *jobs);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < count; k++) {
		jobs[k].scan = rspamd_scan_start(c, &env, msg.data, msg.len, on_scan, &jobs[k]);
		if (cancel_ms >= 0) {
			jobs[k].cancel = evtimer_new(base, on_cancel, &jobs[k]);
			struct timeval tv = { cancel_ms / 1000, (cancel_ms % 1000) * 1000 };
			evtimer_add(jobs[k].cancel, &tv);
		}
	}
	event_base_dispatch(base);
	const struct rspamd_stats *st = rspamd_client_stats(c);
	printf("STATS\tscans=%lu errors=%lu timeouts=%lu cancelled=%lu\n", st->scans,
	       st->scan_errors, st->scan_timeouts, st->cancelled);
	for (int k = 0; k < count; k++)
		if (jobs[k].cancel)
			event_free(jobs[k].cancel);
	free(jobs);
	rspamd_client_free(c);
	event_base_free(base);
	buf_free(&msg);
	buf_free(&err);
	free(rcpts);
	return 0;
}

static int run_learn(int argc, char **argv)
{
	if (argc < 5 || (strcmp(argv[2], "spam") != 0 && strcmp(argv[2], "ham") != 0))
		return usage();
	/* the controller is the only URL used: give it as both */
	struct rspamd_client_settings set = { .url = argv[3], .controller_url = argv[3],
					      .timeout_ms = 10000 };
	const char *rcpt = NULL;
	int i = 4;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--password") == 0)
			set.password = argv[i + 1];
		else if (strcmp(argv[i], "--rcpt") == 0)
			rcpt = argv[i + 1];
		else
			return usage();
	}
	if (i + 1 != argc)
		return usage();
	struct buf msg = BUF_INIT;
	read_file(argv[i], &msg);
	struct event_base *base = event_base_new();
	struct buf err = BUF_INIT;
	struct rspamd_client *c = rspamd_client_new(base, &set, &err);
	if (!c) {
		printf("CONFIG\t%s\n", err.data);
		event_base_free(base);
		buf_free(&msg);
		buf_free(&err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rspamd_learn(c, strcmp(argv[2], "spam") == 0, msg.data, msg.len, rcpt, argv[i]);
	buf_free(&msg); /* a learn copies the message: the bytes may go at once */
	event_base_dispatch(base);
	const struct rspamd_stats *st = rspamd_client_stats(c);
	printf("LEARN\tok=%lu errors=%lu\t%ld\n", st->learns, st->learn_errors, ms_since_start());
	rspamd_client_free(c);
	event_base_free(base);
	buf_free(&err);
	return 0;
}

static int run_parse(const char *path)
{
	struct buf body = BUF_INIT, err = BUF_INIT;
	read_file(path, &body);
	struct rspamd_result r;
	if (rspamd_reply_parse(body.data ? body.data : "", body.len, &r, &err))
		print_result(&r);
	else
		printf("ERROR\t%s", err.data);
	printf("\t0\n");
	rspamd_result_free(&r);
	buf_free(&body);
	buf_free(&err);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "scan") == 0)
		return run_scan(argc, argv);
	if (argc >= 5 && strcmp(argv[1], "learn") == 0)
		return run_learn(argc, argv);
	if (argc == 3 && strcmp(argv[1], "parse") == 0)
		return run_parse(argv[2]);
	return usage();
}
