#include "spam/verdict.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Reply text from rspamd or a virus name is printable ASCII already (rspamd_reply.c);
 * it is only cut here so the line stays within SPAM_REPLY_MAX. */
static void set_reply(struct spam_verdict *v, const char *code, const char *text)
{
	snprintf(v->reply, sizeof v->reply, "%s %.400s", code, text);
}

static bool ours(const char *name)
{
	return strcasecmp(name, "X-Spam-Status") == 0 || strcasecmp(name, "X-Spam-Score") == 0 ||
	       strcasecmp(name, "X-Spam-Symbols") == 0;
}

/* X-Spam-Symbols: NAME(score), ... folded before 78 columns. */
static void symbols_header(struct buf *h, const struct rspamd_result *r)
{
	const char *name = "X-Spam-Symbols:";
	buf_append_str(h, name);
	size_t col = strlen(name);
	for (size_t i = 0; i < r->nsymbols; i++) {
		char item[260];
		int n = snprintf(item, sizeof item, " %.200s(%.2f)%s", r->symbols[i].name,
				 r->symbols[i].score, i + 1 < r->nsymbols ? "," : "");
		if (n < 0)
			continue;
		if (col + (size_t)n > 78 && col > strlen(name)) {
			buf_append_str(h, "\r\n\t");
			col = 1;
			buf_append_str(h, item + 1);
			col += (size_t)n - 1;
		} else {
			buf_append_str(h, item);
			col += (size_t)n;
		}
	}
	if (r->nsymbols == 0)
		buf_append_str(h, " none");
	buf_append_str(h, "\r\n");
}

void spam_verdict_make(struct spam_verdict *v, const struct rspamd_result *r, const char *error,
		       bool tempfail_when_unavailable)
{
	memset(v, 0, sizeof *v);
	if (!r) {
		if (tempfail_when_unavailable) {
			v->disposition = SPAM_TEMPFAIL;
			v->what = "unscanned";
			set_reply(v, "451 4.7.1", "The spam filter cannot check this message right "
				  "now; please try again later");
		} else {
			v->disposition = SPAM_DELIVER;
			v->what = "unscanned";
			buf_append_str(&v->headers, "X-Spam-Status: unscanned\r\n");
		}
		return;
	}
	if (r->virus) {
		v->disposition = SPAM_REJECT;
		v->what = "virus";
		char text[300];
		snprintf(text, sizeof text, "This message contains a virus (%.200s) and was not "
			 "accepted", r->virus);
		set_reply(v, "554 5.7.1", text);
		return;
	}
	switch (r->action) {
	case RSPAMD_REJECT:
		v->disposition = SPAM_REJECT;
		v->what = "spam";
		set_reply(v, "550 5.7.1", r->smtp_message ? r->smtp_message :
			  "This message looks like spam and was not accepted");
		return;
	case RSPAMD_SOFT_REJECT:
	case RSPAMD_GREYLIST:
		v->disposition = SPAM_TEMPFAIL;
		v->what = "retry";
		set_reply(v, "451 4.7.1", r->smtp_message ? r->smtp_message :
			  "This message is not accepted for now; please try again later");
		return;
	case RSPAMD_ADD_HEADER:
	case RSPAMD_REWRITE_SUBJECT:
		v->disposition = SPAM_JUNK;
		v->what = "junk";
		break;
	case RSPAMD_NO_ACTION:
		v->disposition = SPAM_DELIVER;
		v->what = "clean";
		break;
	}
	bool junk = v->disposition == SPAM_JUNK;
	buf_printf(&v->headers, "X-Spam-Status: %s, score=%.2f required=%.2f action=\"%s\"\r\n",
		   junk ? "Yes" : "No", r->score, r->required_score, rspamd_action_name(r->action));
	buf_printf(&v->headers, "X-Spam-Score: %.2f\r\n", r->score);
	if (junk)
		symbols_header(&v->headers, r);
	/* what rspamd's milter_headers module asks for, when it is set up; ours win */
	for (size_t i = 0; i < r->nadd_headers; i++)
		if (!ours(r->add_headers[i].name)) {
			const struct rspamd_header *h = &r->add_headers[i];
			/* a header line stays within 998 bytes */
			buf_printf(&v->headers, "%s: %.*s\r\n", h->name,
				   (int)(996 - strlen(h->name)), h->value);
		}
}

void spam_verdict_free(struct spam_verdict *v)
{
	buf_free(&v->headers);
}
