/* DMARC aggregate reports (RFC 7489 7.2 and appendix C): reading the reports other providers
 * send us, and writing the ones we send. Pure code over buffers, no I/O.
 *
 * Reading: dmarc_report_from_message() finds the report in a mail message (an attachment or
 * body that is a .zip, a .gz or plain XML), decompresses it (zlib, libzip from memory) and
 * parses the <feedback> XML with libxml2's streaming reader: no network, no DTD (a document
 * with a DOCTYPE is refused, so no entity is ever declared or expanded), at most
 * DMARC_REPORT_MAX_XML bytes after decompression and DMARC_REPORT_MAX_RECORDS records. A
 * report bomb stops at the size limit with an error; malformed XML is an error.
 *
 * Writing: dmarc_report_xml() renders a struct dmarc_report as the appendix C schema, and
 * dmarc_report_gzip() compresses it for the attachment. */
#ifndef YUBIN_MAILAUTH_DMARC_REPORT_H
#define YUBIN_MAILAUTH_DMARC_REPORT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define DMARC_REPORT_MAX_XML (20u << 20)   /* bytes of XML after decompression */
#define DMARC_REPORT_MAX_RECORDS 50000     /* <record> elements in one report */
#define DMARC_REPORT_MAX_FIELD 512         /* bytes kept of one element's text */
#define DMARC_REPORT_MAX_DEPTH 16          /* element nesting (the schema needs 5) */
#define DMARC_REPORT_MAX_ZIP_ENTRIES 1000  /* zip entries looked at for the .xml file */

/* One <record>. Strings are malloc'd, never NULL ("" when absent); text is trimmed. */
struct dmarc_report_record {
	char *source_ip;
	int64_t count;
	char *disposition;          /* policy_evaluated: none, quarantine, reject */
	char *dkim, *spf;           /* policy_evaluated: aligned pass or fail */
	char *header_from, *envelope_from;
	char *dkim_domain, *dkim_selector, *dkim_result; /* auth_results: a passing DKIM
							   * result if any, else the first */
	char *spf_domain, *spf_scope, *spf_result;      /* auth_results: the first SPF */
};

/* A whole report. For writing, the same fields are the input (NULL strings are written as
 * empty or left out where the schema allows). */
struct dmarc_report {
	char *org_name, *email, *report_id;
	int64_t begin, end;              /* date_range, unix seconds */
	char *domain;                    /* policy_published */
	char *adkim, *aspf, *p, *sp;
	int pct;                         /* -1: absent */
	struct dmarc_report_record *records;
	size_t nrecords;
};

/* Parses <feedback> XML. False with a sentence in err (the report is then empty). */
bool dmarc_report_parse_xml(const char *xml, size_t len, struct dmarc_report *out,
			    struct buf *err);

/* Decompresses a report file: gzip (1f 8b), zip (PK 03 04: the first entry whose name ends
 * in .xml) or plain XML (copied), into out, at most DMARC_REPORT_MAX_XML bytes. False with a
 * sentence in err (a bomb: "larger than ..."). */
bool dmarc_report_decompress(const char *data, size_t len, struct buf *out, struct buf *err);

/* Finds the report in a message (the first part, outside attached messages, that decodes to
 * a zip, gzip or XML report file), decompresses and parses it. */
bool dmarc_report_from_message(const char *msg, size_t len, struct dmarc_report *out,
			       struct buf *err);

void dmarc_report_free(struct dmarc_report *r);

/* Appends the report as RFC 7489 appendix C XML (version 1.0), text escaped. */
void dmarc_report_xml(const struct dmarc_report *r, struct buf *out);
/* Appends data gzip-compressed. False only when zlib fails. */
bool dmarc_report_gzip(const char *data, size_t len, struct buf *out);

/* What the inbound path saw of one message, for the reports we send (dmarc-reports = on).
 * Strings may be NULL (stored as ""). The DMARC evaluation fills it in once per message
 * whose From domain had a DMARC record; results are the RFC 7489 words ("pass", "fail",
 * "none", "neutral", "softfail", "temperror", "permerror"). */
struct dmarc_observation {
	int64_t time;               /* unix seconds the message arrived */
	const char *source_ip;      /* the connecting client's address, as text */
	const char *header_from;    /* RFC5322.From domain */
	const char *envelope_from;  /* RFC5321.MailFrom domain ("" for <>) */
	const char *policy_domain;  /* the domain whose DMARC record was used (From or its
				     * organizational domain) */
	const char *p, *sp;         /* its policy: none, quarantine, reject (sp NULL: as p) */
	const char *adkim, *aspf;   /* "r" or "s" (NULL: "r") */
	int pct;                    /* 0..100 (use 100 when absent) */
	const char *rua;            /* the record's rua= value as published (NULL or "": no
				     * reports asked for: nothing is recorded) */
	const char *disposition;    /* what we applied: none, quarantine, reject */
	const char *dkim_aligned;   /* policy_evaluated dkim: pass or fail */
	const char *spf_aligned;    /* policy_evaluated spf: pass or fail */
	const char *dkim_domain, *dkim_selector, *dkim_result; /* the DKIM signature reported
								 * (the aligned passing one, else
								 * the first; NULL: none) */
	const char *spf_domain, *spf_scope, *spf_result;     /* scope "mfrom" or "helo" */
};

/* One address of a rua= list: "mailto:a@b.example!10m" gives a@b.example and 10485760.
 * max_size 0: no limit. */
struct dmarc_rua {
	char address[320];
	uint64_t max_size;
};
/* Parses a rua= value (comma-separated URIs; only mailto: is used, others skipped) into at
 * most max entries; returns how many. %-escapes in the address are decoded. */
size_t dmarc_rua_parse(const char *rua, struct dmarc_rua *out, size_t max);

#endif
