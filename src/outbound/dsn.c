#include "outbound/dsn.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mime/mime.h"

static bool has_word(const char *text, const char *word)
{
	return text && strcasestr(text, word) != NULL;
}

const char *dsn_explain(const char *status, const char *diagnostic)
{
	if (!status)
		status = "";
	if (strcmp(status, "5.1.1") == 0 || strcmp(status, "5.1.0") == 0 ||
	    has_word(diagnostic, "user unknown") || has_word(diagnostic, "no such user"))
		return "The address does not exist at the receiving side. Check the spelling of the "
		       "address (the part before and after @), or ask the person for their current "
		       "address.";
	if (strncmp(status, "5.1.2", 5) == 0 || strncmp(status, "5.4.4", 5) == 0)
		return "The domain after @ has no mail server or does not exist. Check the spelling of "
		       "the domain.";
	if (strcmp(status, "5.1.10") == 0)
		return "The domain says it does not receive mail at all (null MX). The address cannot "
		       "be used for mail.";
	if (strncmp(status, "5.2.2", 5) == 0 || strncmp(status, "4.2.2", 5) == 0 ||
	    has_word(diagnostic, "quota") || has_word(diagnostic, "mailbox full"))
		return "The recipient's mailbox is full. They must delete some mail first; try again "
		       "later or reach them another way.";
	if (strncmp(status, "5.3.4", 5) == 0 || strncmp(status, "5.2.3", 5) == 0 ||
	    has_word(diagnostic, "too large") || has_word(diagnostic, "size"))
		return "The message is too big for the receiving server. Send large files as a link "
		       "instead of an attachment.";
	if (strncmp(status, "5.6.7", 5) == 0)
		return "The address or message uses characters outside ASCII (for example Japanese in "
		       "the address), and the receiving server does not support them (no SMTPUTF8). "
		       "Use a plain ASCII address.";
	if (strncmp(status, "5.7", 3) == 0 || has_word(diagnostic, "spam") ||
	    has_word(diagnostic, "blocked") || has_word(diagnostic, "blacklist") ||
	    has_word(diagnostic, "policy"))
		return "The receiving server does not trust mail from this server (it may look like "
		       "spam to them). Ask your administrator to check this domain's SPF, DKIM and "
		       "DMARC records and whether the server is on a block list.";
	if (strncmp(status, "4.4", 3) == 0)
		return "The receiving server could not be reached. The message is kept and tried again "
		       "automatically; nothing needs to be done yet.";
	if (status[0] == '4')
		return "The receiving server asked us to try again later. The message is kept and "
		       "tried again automatically.";
	return "The receiving server refused the message. Its answer above may say why; if it is "
	       "unclear, send the answer to your administrator.";
}

static void format_date(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

void dsn_build(struct buf *out, const char *hostname, const char *mailer_daemon,
	       const char *sender, bool delay, const struct dsn_recipient *r, size_t n,
	       const char *original, size_t original_len, int64_t arrival, int64_t now)
{
	unsigned char rnd[12];
	RAND_bytes(rnd, sizeof rnd);
	char id[32];
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	char date[64], arrived[64];
	format_date(now, date, sizeof date);
	format_date(arrival, arrived, sizeof arrived);
	buf_printf(out, "From: Mail Delivery System <%s>\r\n", mailer_daemon);
	buf_printf(out, "To: <%s>\r\n", sender);
	buf_printf(out, "Subject: %s\r\n", delay ? "Delayed Mail (still being retried)"
						 : "Undelivered Mail Returned to Sender");
	buf_printf(out, "Date: %s\r\nMessage-ID: <%s.dsn@%s>\r\n", date, id, hostname);
	buf_append_str(out, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
	buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
			"\tboundary=\"%s.b\"\r\n\r\n", id);
	buf_printf(out, "--%s.b\r\nContent-Type: text/plain; charset=utf-8\r\n"
			"Content-Transfer-Encoding: 8bit\r\n\r\n", id);
	buf_printf(out, "This is the mail server %s.\r\n\r\n", hostname);
	buf_append_str(out, delay ? "Your message has not been delivered yet to:\r\n"
				  : "Your message could not be delivered to:\r\n");
	for (size_t i = 0; i < n; i++) {
		buf_printf(out, "\r\n  <%s>\r\n", r[i].address);
		if (r[i].diagnostic && r[i].remote_mta)
			buf_printf(out, "  The receiving server %s said: %s\r\n", r[i].remote_mta,
				   r[i].diagnostic);
		else if (r[i].diagnostic)
			buf_printf(out, "  Reason: %s\r\n", r[i].diagnostic);
		buf_printf(out, "  What this means: %s\r\n",
			   r[i].explanation ? r[i].explanation : dsn_explain(r[i].status, r[i].diagnostic));
	}
	if (delay)
		buf_append_str(out, "\r\nNothing needs to be done now; you will get another message "
				    "if it finally fails.\r\n");
	buf_append_str(out, "\r\nThe headers of your message are attached below.\r\n\r\n");
	/* RFC 6533: UTF-8 addresses or headers need the "global" report types. */
	bool global = false;
	for (size_t i = 0; i < n; i++)
		for (const char *p = r[i].address; *p; p++)
			global |= (unsigned char)*p >= 0x80;
	size_t hdr_len = mime_header_block_size(original, original_len);
	for (size_t i = 0; i < hdr_len; i++)
		global |= (unsigned char)original[i] >= 0x80;
	buf_printf(out, "--%s.b\r\nContent-Type: message/%sdelivery-status\r\n\r\n", id,
		   global ? "global-" : "");
	buf_printf(out, "Reporting-MTA: dns; %s\r\nArrival-Date: %s\r\n", hostname, arrived);
	for (size_t i = 0; i < n; i++) {
		buf_printf(out, "\r\nFinal-Recipient: %s; %s\r\nAction: %s\r\nStatus: %s\r\n",
			   global ? "utf-8" : "rfc822", r[i].address, delay ? "delayed" : "failed",
			   r[i].status);
		/* Diagnostic-Code "smtp" is only for what a remote server said. */
		if (r[i].remote_mta) {
			buf_printf(out, "Remote-MTA: dns; %s\r\n", r[i].remote_mta);
			if (r[i].diagnostic)
				buf_printf(out, "Diagnostic-Code: smtp; %s\r\n", r[i].diagnostic);
		}
	}
	buf_printf(out, "\r\n--%s.b\r\nContent-Type: %s\r\n\r\n", id,
		   global ? "message/global-headers" : "text/rfc822-headers");
	size_t hdr = mime_header_block_size(original, original_len);
	/* Our own Return-Path line is not part of what the sender wrote. */
	if (hdr > 13 && strncasecmp(original, "Return-Path:", 12) == 0) {
		const char *nl = memchr(original, '\n', hdr);
		if (nl) {
			size_t skip = (size_t)(nl - original) + 1;
			original += skip;
			hdr -= skip;
		}
	}
	buf_append(out, original, hdr);
	if (hdr < 2 || original[hdr - 1] != '\n')
		buf_append_str(out, "\r\n");
	buf_printf(out, "--%s.b--\r\n", id);
}
