/* Reading DMARC aggregate reports: find the attachment, decompress it within a bound, parse
 * the XML with libxml2's streaming reader (memory follows the nesting, not the size). */
#include "mailauth/dmarc_report.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <libxml/xmlreader.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>
#include <zlib.h>

#include "lib/alloc.h"
#include "mime/mime.h"

/* ---------------------------------------------------------------------------------------------
 * Decompression. */

static bool gunzip(const char *data, size_t len, struct buf *out, struct buf *err)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		buf_printf(err, "zlib could not start");
		return false;
	}
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	char chunk[65536];
	int rc;
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof chunk;
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END) {
			buf_printf(err, "the gzip data is damaged (%s)", z.msg ? z.msg : "inflate failed");
			inflateEnd(&z);
			return false;
		}
		size_t got = sizeof chunk - z.avail_out;
		if (out->len + got > DMARC_REPORT_MAX_XML) {
			buf_printf(err, "the report is larger than %u bytes once decompressed; not read",
				   DMARC_REPORT_MAX_XML);
			inflateEnd(&z);
			return false;
		}
		buf_append(out, chunk, got);
		if (rc == Z_OK && got == 0 && z.avail_in == 0) {
			buf_printf(err, "the gzip data ends too soon");
			inflateEnd(&z);
			return false;
		}
	} while (rc != Z_STREAM_END);
	inflateEnd(&z);
	return true;
}

static bool ends_with_xml(const char *name)
{
	size_t n = strlen(name);
	return n >= 4 && strcasecmp(name + n - 4, ".xml") == 0;
}

static bool unzip(const char *data, size_t len, struct buf *out, struct buf *err)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
	if (!src) {
		buf_printf(err, "the zip file cannot be read: %s", zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return false;
	}
	zip_t *z = zip_open_from_source(src, ZIP_RDONLY, &ze);
	if (!z) {
		buf_printf(err, "the zip file cannot be read: %s", zip_error_strerror(&ze));
		zip_source_free(src);
		zip_error_fini(&ze);
		return false;
	}
	zip_error_fini(&ze);
	zip_int64_t n = zip_get_num_entries(z, 0);
	zip_int64_t found = -1;
	for (zip_int64_t i = 0; i < n && i < DMARC_REPORT_MAX_ZIP_ENTRIES; i++) {
		const char *name = zip_get_name(z, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
		if (name && ends_with_xml(name)) {
			found = i;
			break;
		}
	}
	bool ok = false;
	if (found < 0) {
		buf_printf(err, "the zip file holds no .xml file");
	} else {
		zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)found, 0);
		if (!f) {
			buf_printf(err, "the .xml file in the zip cannot be read: %s", zip_strerror(z));
		} else {
			char chunk[65536];
			zip_int64_t got;
			ok = true;
			while ((got = zip_fread(f, chunk, sizeof chunk)) > 0) {
				if (out->len + (size_t)got > DMARC_REPORT_MAX_XML) {
					buf_printf(err, "the report is larger than %u bytes once "
						   "decompressed; not read", DMARC_REPORT_MAX_XML);
					ok = false;
					break;
				}
				buf_append(out, chunk, (size_t)got);
			}
			if (ok && got < 0) {
				buf_printf(err, "the .xml file in the zip is damaged: %s",
					   zip_file_strerror(f));
				ok = false;
			}
			zip_fclose(f);
		}
	}
	zip_discard(z); /* frees src too */
	return ok;
}

static bool looks_like_xml(const char *data, size_t len)
{
	size_t i = 0;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	return i < len && data[i] == '<';
}

/* Zip, gzip or XML by its first bytes. */
static bool report_file(const char *data, size_t len)
{
	return (len >= 2 && (unsigned char)data[0] == 0x1f && (unsigned char)data[1] == 0x8b) ||
	       (len >= 4 && memcmp(data, "PK\x03\x04", 4) == 0) || looks_like_xml(data, len);
}

bool dmarc_report_decompress(const char *data, size_t len, struct buf *out, struct buf *err)
{
	if (len >= 2 && (unsigned char)data[0] == 0x1f && (unsigned char)data[1] == 0x8b)
		return gunzip(data, len, out, err);
	if (len >= 4 && memcmp(data, "PK\x03\x04", 4) == 0)
		return unzip(data, len, out, err);
	if (looks_like_xml(data, len)) {
		if (len > DMARC_REPORT_MAX_XML) {
			buf_printf(err, "the report is larger than %u bytes; not read",
				   DMARC_REPORT_MAX_XML);
			return false;
		}
		buf_append(out, data, len);
		return true;
	}
	buf_printf(err, "the attachment is neither zip, gzip nor XML");
	return false;
}

/* ---------------------------------------------------------------------------------------------
 * XML. */

struct parse {
	struct dmarc_report *r;
	char names[DMARC_REPORT_MAX_DEPTH][32];
	int depth;
	struct buf text;            /* of the innermost element, bounded */
	size_t records_cap;
	/* the <dkim> or <spf> of auth_results being read */
	char *a_domain, *a_selector, *a_result, *a_scope;
	struct buf *err;
	bool failed;
};

static char *trimmed(const struct buf *b)
{
	const char *s = b->data ? b->data : "";
	size_t len = b->len;
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return xstrndup(s, len);
}

static void set(char **field, const struct buf *text)
{
	free(*field);
	*field = trimmed(text);
}

static bool parse_int(const struct buf *text, int64_t min, int64_t max, int64_t *out)
{
	char *s = trimmed(text), *end;
	long long v = strtoll(s, &end, 10);
	bool ok = *s && !*end && v >= min && v <= max;
	free(s);
	if (ok)
		*out = v;
	return ok;
}

/* True when the open elements are exactly these names (from the root). */
static bool at(const struct parse *p, int n, ...)
{
	if (p->depth != n)
		return false;
	va_list ap;
	va_start(ap, n);
	bool same = true;
	for (int i = 0; i < n && same; i++)
		same = strcmp(p->names[i], va_arg(ap, const char *)) == 0;
	va_end(ap);
	return same;
}

static void fail(struct parse *p, const char *what)
{
	if (!p->failed)
		buf_printf(p->err, "%s", what);
	p->failed = true;
}

static struct dmarc_report_record *record(struct parse *p)
{
	return p->r->nrecords ? &p->r->records[p->r->nrecords - 1] : NULL;
}

static void record_start(struct parse *p)
{
	struct dmarc_report *r = p->r;
	if (r->nrecords == DMARC_REPORT_MAX_RECORDS) {
		buf_printf(p->err, "the report has more than %d records; not read",
			   DMARC_REPORT_MAX_RECORDS);
		p->failed = true;
		return;
	}
	if (r->nrecords == p->records_cap) {
		p->records_cap = p->records_cap ? p->records_cap * 2 : 16;
		r->records = xrealloc(r->records, p->records_cap * sizeof *r->records);
	}
	memset(&r->records[r->nrecords++], 0, sizeof *r->records);
}

static void auth_clear(struct parse *p)
{
	free(p->a_domain);
	free(p->a_selector);
	free(p->a_result);
	free(p->a_scope);
	p->a_domain = p->a_selector = p->a_result = p->a_scope = NULL;
}

static void take(char **dst, char **src)
{
	free(*dst);
	*dst = *src;
	*src = NULL;
}

static void element_start(struct parse *p, const char *name)
{
	if (p->depth == DMARC_REPORT_MAX_DEPTH) {
		fail(p, "the XML is nested too deeply for a DMARC report");
		return;
	}
	snprintf(p->names[p->depth], sizeof p->names[0], "%s", name);
	p->depth++;
	buf_reset(&p->text);
	if (p->depth == 1 && strcmp(name, "feedback") != 0)
		fail(p, "this is not a DMARC aggregate report (the XML does not start with "
			"<feedback>)");
	else if (at(p, 2, "feedback", "record"))
		record_start(p);
	else if (at(p, 4, "feedback", "record", "auth_results", "dkim") ||
		 at(p, 4, "feedback", "record", "auth_results", "spf"))
		auth_clear(p);
}

static void element_end(struct parse *p)
{
	struct dmarc_report *r = p->r;
	struct dmarc_report_record *rec = record(p);
	const struct buf *t = &p->text;
	if (p->depth == 3 && strcmp(p->names[0], "feedback") == 0 &&
	    strcmp(p->names[1], "report_metadata") == 0) {
		const char *n = p->names[2];
		if (strcmp(n, "org_name") == 0)
			set(&r->org_name, t);
		else if (strcmp(n, "email") == 0)
			set(&r->email, t);
		else if (strcmp(n, "report_id") == 0)
			set(&r->report_id, t);
	} else if (at(p, 4, "feedback", "report_metadata", "date_range", "begin")) {
		if (!parse_int(t, 0, INT64_C(1) << 40, &r->begin))
			fail(p, "the report's begin date is not a number of seconds");
	} else if (at(p, 4, "feedback", "report_metadata", "date_range", "end")) {
		if (!parse_int(t, 0, INT64_C(1) << 40, &r->end))
			fail(p, "the report's end date is not a number of seconds");
	} else if (p->depth == 3 && strcmp(p->names[0], "feedback") == 0 &&
		   strcmp(p->names[1], "policy_published") == 0) {
		const char *n = p->names[2];
		int64_t pct;
		if (strcmp(n, "domain") == 0)
			set(&r->domain, t);
		else if (strcmp(n, "adkim") == 0)
			set(&r->adkim, t);
		else if (strcmp(n, "aspf") == 0)
			set(&r->aspf, t);
		else if (strcmp(n, "p") == 0)
			set(&r->p, t);
		else if (strcmp(n, "sp") == 0)
			set(&r->sp, t);
		else if (strcmp(n, "pct") == 0 && parse_int(t, 0, 100, &pct))
			r->pct = (int)pct;
	} else if (rec && p->depth >= 4 && strcmp(p->names[1], "record") == 0) {
		const char *sect = p->names[2], *n = p->names[p->depth - 1];
		if (strcmp(sect, "row") == 0 && p->depth == 4) {
			if (strcmp(n, "source_ip") == 0)
				set(&rec->source_ip, t);
			else if (strcmp(n, "count") == 0 &&
				 !parse_int(t, 0, INT64_C(1) << 40, &rec->count))
				fail(p, "a record's count is not a number");
		} else if (strcmp(sect, "row") == 0 && p->depth == 5 &&
			   strcmp(p->names[3], "policy_evaluated") == 0) {
			if (strcmp(n, "disposition") == 0)
				set(&rec->disposition, t);
			else if (strcmp(n, "dkim") == 0)
				set(&rec->dkim, t);
			else if (strcmp(n, "spf") == 0)
				set(&rec->spf, t);
		} else if (strcmp(sect, "identifiers") == 0 && p->depth == 4) {
			if (strcmp(n, "header_from") == 0)
				set(&rec->header_from, t);
			else if (strcmp(n, "envelope_from") == 0)
				set(&rec->envelope_from, t);
		} else if (strcmp(sect, "auth_results") == 0 && p->depth == 5) {
			if (strcmp(n, "domain") == 0)
				set(&p->a_domain, t);
			else if (strcmp(n, "selector") == 0)
				set(&p->a_selector, t);
			else if (strcmp(n, "result") == 0)
				set(&p->a_result, t);
			else if (strcmp(n, "scope") == 0)
				set(&p->a_scope, t);
		} else if (at(p, 4, "feedback", "record", "auth_results", "dkim")) {
			/* keep a passing signature over one that failed: that is what aligns */
			bool pass = p->a_result && strcasecmp(p->a_result, "pass") == 0;
			bool have_pass = rec->dkim_result && strcasecmp(rec->dkim_result, "pass") == 0;
			if (!rec->dkim_result || (pass && !have_pass)) {
				take(&rec->dkim_domain, &p->a_domain);
				take(&rec->dkim_selector, &p->a_selector);
				take(&rec->dkim_result, &p->a_result);
			}
			auth_clear(p);
		} else if (at(p, 4, "feedback", "record", "auth_results", "spf")) {
			if (!rec->spf_result) {
				take(&rec->spf_domain, &p->a_domain);
				take(&rec->spf_scope, &p->a_scope);
				take(&rec->spf_result, &p->a_result);
			}
			auth_clear(p);
		}
	}
	p->depth--;
	buf_reset(&p->text);
}

static void on_xml_error(void *arg, xmlErrorPtr e)
{
	struct parse *p = arg;
	if (!p->failed) {
		char msg[160];
		snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "error");
		msg[strcspn(msg, "\r\n")] = 0;
		buf_printf(p->err, "the report's XML is malformed (line %d: %s)", e ? e->line : 0, msg);
	}
	p->failed = true;
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser();
}

/* The string fields of a record, for filling and freeing them all. */
static const size_t record_strings[] = {
	offsetof(struct dmarc_report_record, source_ip),
	offsetof(struct dmarc_report_record, disposition),
	offsetof(struct dmarc_report_record, dkim),
	offsetof(struct dmarc_report_record, spf),
	offsetof(struct dmarc_report_record, header_from),
	offsetof(struct dmarc_report_record, envelope_from),
	offsetof(struct dmarc_report_record, dkim_domain),
	offsetof(struct dmarc_report_record, dkim_selector),
	offsetof(struct dmarc_report_record, dkim_result),
	offsetof(struct dmarc_report_record, spf_domain),
	offsetof(struct dmarc_report_record, spf_scope),
	offsetof(struct dmarc_report_record, spf_result),
};
#define NRECORD_STRINGS (sizeof record_strings / sizeof record_strings[0])

static char **record_string(struct dmarc_report_record *rec, size_t i)
{
	return (char **)((char *)rec + record_strings[i]);
}

/* Absent strings become "" so every reader can print them. */
static void fill_empty(struct dmarc_report *r)
{
	char **top[] = { &r->org_name, &r->email, &r->report_id, &r->domain, &r->adkim, &r->aspf,
			 &r->p, &r->sp };
	for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
		if (!*top[i])
			*top[i] = xstrdup("");
	for (size_t k = 0; k < r->nrecords; k++) {
		for (size_t i = 0; i < NRECORD_STRINGS; i++) {
			char **f = record_string(&r->records[k], i);
			if (!*f)
				*f = xstrdup("");
		}
	}
}

bool dmarc_report_parse_xml(const char *xml, size_t len, struct dmarc_report *out,
			    struct buf *err)
{
	memset(out, 0, sizeof *out);
	out->pct = -1;
	if (len > DMARC_REPORT_MAX_XML) {
		buf_printf(err, "the report is larger than %u bytes; not read", DMARC_REPORT_MAX_XML);
		return false;
	}
	if (!looks_like_xml(xml, len)) {
		buf_printf(err, "the report is empty or not XML");
		return false;
	}
	/* No DTD at all: real reports have none, and without one no entity can be declared,
	 * so nothing can expand (billion laughs) or reach for a file or the network. */
	if (memmem(xml, len, "<!DOCTYPE", 9) || memmem(xml, len, "<!ENTITY", 8)) {
		buf_printf(err, "the report's XML has a DOCTYPE; DMARC reports have none, so it is "
			   "not read");
		return false;
	}
	pthread_once(&xml_once, xml_init);
	struct parse p;
	memset(&p, 0, sizeof p);
	p.r = out;
	p.err = err;
	xmlTextReaderPtr rd = xmlReaderForMemory(xml, (int)len, NULL, NULL,
						 XML_PARSE_NONET | XML_PARSE_NOERROR |
						 XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!rd) {
		buf_printf(err, "the report's XML cannot be read");
		return false;
	}
	xmlTextReaderSetStructuredErrorHandler(rd, on_xml_error, &p);
	bool seen_root = false;
	int rc;
	while (!p.failed && (rc = xmlTextReaderRead(rd)) == 1) {
		int type = xmlTextReaderNodeType(rd);
		if (type == XML_READER_TYPE_ELEMENT) {
			const char *name = (const char *)xmlTextReaderConstLocalName(rd);
			bool empty = xmlTextReaderIsEmptyElement(rd);
			element_start(&p, name ? name : "");
			seen_root = true;
			if (empty && !p.failed)
				element_end(&p);
		} else if (type == XML_READER_TYPE_END_ELEMENT) {
			if (p.depth > 0)
				element_end(&p);
		} else if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
			   type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE) {
			const char *v = (const char *)xmlTextReaderConstValue(rd);
			size_t vl = v ? strlen(v) : 0;
			if (p.text.len + vl > DMARC_REPORT_MAX_FIELD)
				vl = p.text.len < DMARC_REPORT_MAX_FIELD
					     ? DMARC_REPORT_MAX_FIELD - p.text.len : 0;
			buf_append(&p.text, v ? v : "", vl);
		} else if (type == XML_READER_TYPE_ENTITY_REFERENCE ||
			   type == XML_READER_TYPE_DOCUMENT_TYPE) {
			fail(&p, "the report's XML uses entities; DMARC reports do not");
		}
	}
	if (!p.failed && rc < 0)
		fail(&p, "the report's XML is malformed");
	xmlFreeTextReader(rd);
	buf_free(&p.text);
	auth_clear(&p);
	if (!p.failed && !seen_root)
		fail(&p, "the report is empty");
	if (!p.failed && (!out->report_id || !out->report_id[0]))
		fail(&p, "the report has no report_id");
	if (!p.failed && (!out->domain || !out->domain[0]))
		fail(&p, "the report names no policy domain (policy_published/domain)");
	if (p.failed) {
		dmarc_report_free(out);
		return false;
	}
	fill_empty(out);
	return true;
}

void dmarc_report_free(struct dmarc_report *r)
{
	char **top[] = { &r->org_name, &r->email, &r->report_id, &r->domain, &r->adkim, &r->aspf,
			 &r->p, &r->sp };
	for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
		free(*top[i]);
	for (size_t k = 0; k < r->nrecords; k++) {
		for (size_t i = 0; i < NRECORD_STRINGS; i++)
			free(*record_string(&r->records[k], i));
	}
	free(r->records);
	memset(r, 0, sizeof *r);
	r->pct = -1;
}

/* ---------------------------------------------------------------------------------------------
 * The message. */

static bool inside_message(const struct mime_message *m, uint32_t i)
{
	for (uint32_t p = m->parts[i].parent; p != MIME_NONE; p = m->parts[p].parent)
		if (m->parts[p].flags & MIME_PART_MESSAGE)
			return true;
	return false;
}

bool dmarc_report_from_message(const char *msg, size_t len, struct dmarc_report *out,
			       struct buf *err)
{
	memset(out, 0, sizeof *out);
	out->pct = -1;
	struct mime_message *m = mime_message_parse(msg, len, NULL);
	struct buf first_err = BUF_INIT;
	bool ok = false, tried = false;
	/* Only the first part that is a report file is read: a message of many small bombs
	 * costs one decompression, not one per part. */
	for (uint32_t i = 0; i < m->nparts && !tried; i++) {
		const struct mime_part *part = &m->parts[i];
		/* leaves only; a bounce quoting our own report (an attached message) is no report */
		if ((part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) || inside_message(m, i))
			continue;
		if (part->body_offset > len || part->body_size > len - part->body_offset)
			continue;
		/* a text/plain body saying "here is your report" is not the report */
		if (strcasecmp(part->type, "text") == 0 && strcasecmp(part->subtype, "xml") != 0)
			continue;
		struct buf raw = BUF_INIT, xml = BUF_INIT;
		mime_decode_cte(part->cte, msg + part->body_offset, part->body_size, &raw);
		tried = report_file(raw.data, raw.len);
		if (tried && dmarc_report_decompress(raw.data, raw.len, &xml, &first_err))
			ok = dmarc_report_parse_xml(xml.data, xml.len, out, &first_err);
		buf_free(&raw);
		buf_free(&xml);
	}
	mime_message_free(&m);
	if (!ok) {
		if (first_err.len)
			buf_append(err, first_err.data, first_err.len);
		else
			buf_printf(err, "the message has no report attached (no zip, gzip or XML "
				   "part)");
	}
	buf_free(&first_err);
	return ok;
}
