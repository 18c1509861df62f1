/* yubin export: a mailbox out in a format mutt and Dovecot read. Maildir keeps every
 * message byte for byte; mbox is mboxrd (reversible ">From " quoting, LF line ends). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "lib/buf.h"

struct export_ctx {
	const char *maildir;
	FILE *mbox;
	size_t count;
	bool failed;
};

static void maildir_flags(unsigned flags, char *out)
{
	/* Maildir info letters in ASCII order: D F R S T. */
	size_t n = 0;
	if (flags & STORE_FLAG_DRAFT)
		out[n++] = 'D';
	if (flags & STORE_FLAG_FLAGGED)
		out[n++] = 'F';
	if (flags & STORE_FLAG_ANSWERED)
		out[n++] = 'R';
	if (flags & STORE_FLAG_SEEN)
		out[n++] = 'S';
	if (flags & STORE_FLAG_DELETED)
		out[n++] = 'T';
	out[n] = '\0';
}

static bool export_maildir_one(struct export_ctx *x, const struct store_message *m)
{
	char flags[8];
	maildir_flags(m->flags, flags);
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/cur/%lld.U%lld.yubin:2,%s", x->maildir, (long long)m->internaldate,
		   (long long)m->uid, flags);
	FILE *f = fopen(path.data, "wb");
	bool ok = f && fwrite(m->data, 1, m->len, f) == m->len;
	if (f && fclose(f) != 0)
		ok = false;
	if (!ok)
		cli_error("cannot write %s: %s", path.data, strerror(errno));
	buf_free(&path);
	return ok;
}

/* The envelope sender, from the Return-Path header every stored message starts with. */
static void envelope_sender(const struct store_message *m, char *out, size_t outlen)
{
	const char *p = m->data;
	snprintf(out, outlen, "MAILER-DAEMON");
	if (m->len > 14 && strncmp(p, "Return-Path: <", 14) == 0) {
		const char *end = memchr(p + 14, '>', m->len - 14);
		if (end && end > p + 14 && (size_t)(end - p - 14) < outlen)
			snprintf(out, outlen, "%.*s", (int)(end - p - 14), p + 14);
	}
}

static bool export_mbox_one(struct export_ctx *x, const struct store_message *m)
{
	char sender[600], date[64];
	envelope_sender(m, sender, sizeof sender);
	time_t t = (time_t)m->internaldate;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	fprintf(x->mbox, "From %s %s\n", sender, date);
	const char *p = m->data, *end = p + m->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t text = len && p[len - 1] == '\r' ? len - 1 : len;
		/* mboxrd: a line that is ">*From " gets one more '>', so reading it back is exact. */
		size_t q = 0;
		while (q < text && p[q] == '>')
			q++;
		if (text - q >= 5 && memcmp(p + q, "From ", 5) == 0)
			fputc('>', x->mbox);
		fwrite(p, 1, text, x->mbox);
		fputc('\n', x->mbox);
		p += len + (nl ? 1 : 0);
	}
	fputc('\n', x->mbox);
	return !ferror(x->mbox);
}

static bool export_one(void *ctx, const struct store_message *m)
{
	struct export_ctx *x = ctx;
	bool ok = x->maildir ? export_maildir_one(x, m) : export_mbox_one(x, m);
	if (!ok) {
		x->failed = true;
		return false;
	}
	x->count++;
	return true;
}

static bool make_dir(const char *base, const char *sub)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s%s", base, sub);
	bool ok = mkdir(p.data, 0700) == 0 || errno == EEXIST;
	if (!ok)
		cli_error("cannot create %s: %s", p.data, strerror(errno));
	buf_free(&p);
	return ok;
}

int cmd_export(struct cli *c)
{
	const char *mailbox = cli_option(c, "--mailbox");
	const char *mbox = cli_option(c, "--mbox");
	const char *maildir = cli_option(c, "--maildir");
	if (c->argc != 1 || (!mbox) == (!maildir)) {
		cli_error("usage: yubin export ADDRESS [--mailbox NAME] (--mbox FILE | --maildir DIR) "
			  "--data DIR");
		return 2;
	}
	/* Output paths are opened by the caller's identity before the store switches user. */
	struct export_ctx x = { .maildir = maildir };
	if (maildir && !(make_dir(maildir, "") && make_dir(maildir, "/cur") &&
			 make_dir(maildir, "/new") && make_dir(maildir, "/tmp")))
		return 1;
	if (mbox && !(x.mbox = fopen(mbox, "wb"))) {
		cli_error("cannot write %s: %s", mbox, strerror(errno));
		return 1;
	}
	struct store *s = cli_open_store(c);
	struct buf err = BUF_INIT;
	bool ok = s->ops->mailbox_messages(s, c->argv[0], mailbox ? mailbox : "INBOX", export_one, &x,
					   &err);
	s->ops->close(s);
	if (x.mbox && fclose(x.mbox) != 0)
		x.failed = true;
	if (!ok)
		cli_error("%s", err.data);
	buf_free(&err);
	if (!ok || x.failed)
		return 1;
	printf("exported %zu messages\n", x.count);
	return 0;
}
