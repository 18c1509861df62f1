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
		       const struct spam_options *o)
{
	static const struct spam_options defaults;
	if (!o)
		o = &defaults;
	memset(v, 0, sizeof *v);
	if (!r) {
		if (o->tempfail_when_unavailable) {
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
	bool spam = false; /* rspamd says spam: X-Spam-Status: Yes, with the symbols */
	switch (r->action) {
	case RSPAMD_REJECT:
		if (o->reject_to_junk) {
			v->disposition = SPAM_JUNK;
			v->what = "junk";
			spam = true;
			break;
		}
		v->disposition = SPAM_REJECT;
		v->what = "spam";
		spam = true;
		set_reply(v, "550 5.7.1", r->smtp_message ? r->smtp_message :
			  "This message looks like spam and was not accepted");
		break; /* the headers too: other recipients may still take it (spam_combine) */
	case RSPAMD_GREYLIST:
		if (o->greylist_to_inbox) {
			v->disposition = SPAM_DELIVER;
			v->what = "clean";
			break;
		}
		/* fall through */
	case RSPAMD_SOFT_REJECT:
		v->disposition = SPAM_TEMPFAIL;
		v->what = "retry";
		set_reply(v, "451 4.7.1", r->smtp_message ? r->smtp_message :
			  "This message is not accepted for now; please try again later");
		break;
	case RSPAMD_ADD_HEADER:
	case RSPAMD_REWRITE_SUBJECT:
		spam = true;
		v->disposition = o->add_header_to_inbox ? SPAM_DELIVER : SPAM_JUNK;
		v->what = o->add_header_to_inbox ? "clean" : "junk";
		break;
	case RSPAMD_NO_ACTION:
		v->disposition = SPAM_DELIVER;
		v->what = "clean";
		break;
	}
	buf_printf(&v->headers, "X-Spam-Status: %s, score=%.2f required=%.2f action=\"%s\"\r\n",
		   spam ? "Yes" : "No", r->score, r->required_score, rspamd_action_name(r->action));
	buf_printf(&v->headers, "X-Spam-Score: %.2f\r\n", r->score);
	if (spam)
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

enum spam_disposition spam_verdict_for(const struct spam_verdict *v,
				       const struct rspamd_result *r,
				       const struct spam_recipient *p)
{
	if (v && r && r->virus)
		return SPAM_REJECT;
	if (p->sender == SPAM_SENDER_BLOCKED)
		return SPAM_REJECT;
	if (!v || !p->scan || p->sender == SPAM_SENDER_ALLOWED)
		return SPAM_DELIVER;
	if (!r)
		return v->disposition; /* unscanned: delivered, or 451 with tempfail */
	if (p->threshold >= 0 && (r->action == RSPAMD_NO_ACTION || r->action == RSPAMD_ADD_HEADER ||
				  r->action == RSPAMD_REWRITE_SUBJECT))
		return r->score >= p->threshold ? SPAM_JUNK : SPAM_DELIVER;
	return v->disposition;
}

enum spam_disposition spam_combine(enum spam_disposition *d, size_t n)
{
	bool taken = n == 0, later = false;
	for (size_t i = 0; i < n; i++) {
		taken |= d[i] == SPAM_DELIVER || d[i] == SPAM_JUNK;
		later |= d[i] == SPAM_TEMPFAIL;
	}
	if (!taken)
		return later ? SPAM_TEMPFAIL : SPAM_REJECT;
	for (size_t i = 0; i < n; i++)
		if (d[i] == SPAM_REJECT || d[i] == SPAM_TEMPFAIL)
			d[i] = SPAM_JUNK;
	return SPAM_DELIVER;
}
