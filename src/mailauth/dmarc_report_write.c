/* Writing DMARC aggregate reports: the appendix C XML, its gzip, and the rua= addresses. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "lib/alloc.h"
#include "mailauth/dmarc_report.h"

/* XML text: the five special characters escaped, control bytes (not allowed in XML 1.0)
 * dropped. Values come from other people's mail, so nothing is trusted. */
static void esc(struct buf *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '<': buf_append_str(out, "&lt;"); break;
		case '>': buf_append_str(out, "&gt;"); break;
		case '&': buf_append_str(out, "&amp;"); break;
		case '"': buf_append_str(out, "&quot;"); break;
		case '\'': buf_append_str(out, "&apos;"); break;
		default:
			if (*p >= 0x20 || *p == '\t')
				buf_append_char(out, (char)*p);
		}
	}
}

static void elem(struct buf *out, const char *indent, const char *name, const char *value)
{
	buf_printf(out, "%s<%s>", indent, name);
	esc(out, value);
	buf_printf(out, "</%s>\n", name);
}

static const char *or(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}

void dmarc_report_xml(const struct dmarc_report *r, struct buf *out)
{
	buf_append_str(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n");
	buf_append_str(out, "  <version>1.0</version>\n  <report_metadata>\n");
	elem(out, "    ", "org_name", r->org_name);
	elem(out, "    ", "email", r->email);
	elem(out, "    ", "report_id", r->report_id);
	buf_printf(out, "    <date_range>\n      <begin>%" PRId64 "</begin>\n"
			"      <end>%" PRId64 "</end>\n    </date_range>\n  </report_metadata>\n",
		   r->begin, r->end);
	buf_append_str(out, "  <policy_published>\n");
	elem(out, "    ", "domain", r->domain);
	elem(out, "    ", "adkim", or(r->adkim, "r"));
	elem(out, "    ", "aspf", or(r->aspf, "r"));
	elem(out, "    ", "p", or(r->p, "none"));
	elem(out, "    ", "sp", or(r->sp, or(r->p, "none")));
	buf_printf(out, "    <pct>%d</pct>\n  </policy_published>\n", r->pct < 0 ? 100 : r->pct);
	for (size_t i = 0; i < r->nrecords; i++) {
		const struct dmarc_report_record *c = &r->records[i];
		buf_append_str(out, "  <record>\n    <row>\n");
		elem(out, "      ", "source_ip", c->source_ip);
		buf_printf(out, "      <count>%" PRId64 "</count>\n", c->count);
		buf_append_str(out, "      <policy_evaluated>\n");
		elem(out, "        ", "disposition", or(c->disposition, "none"));
		elem(out, "        ", "dkim", or(c->dkim, "fail"));
		elem(out, "        ", "spf", or(c->spf, "fail"));
		buf_append_str(out, "      </policy_evaluated>\n    </row>\n    <identifiers>\n");
		if (c->envelope_from && *c->envelope_from)
			elem(out, "      ", "envelope_from", c->envelope_from);
		elem(out, "      ", "header_from", c->header_from);
		buf_append_str(out, "    </identifiers>\n    <auth_results>\n");
		if (c->dkim_domain && *c->dkim_domain) {
			buf_append_str(out, "      <dkim>\n");
			elem(out, "        ", "domain", c->dkim_domain);
			if (c->dkim_selector && *c->dkim_selector)
				elem(out, "        ", "selector", c->dkim_selector);
			elem(out, "        ", "result", or(c->dkim_result, "none"));
			buf_append_str(out, "      </dkim>\n");
		}
		/* the schema requires one SPF result */
		buf_append_str(out, "      <spf>\n");
		elem(out, "        ", "domain", c->spf_domain);
		elem(out, "        ", "scope", or(c->spf_scope, "mfrom"));
		elem(out, "        ", "result", or(c->spf_result, "none"));
		buf_append_str(out, "      </spf>\n    </auth_results>\n  </record>\n");
	}
	buf_append_str(out, "</feedback>\n");
}

bool dmarc_report_gzip(const char *data, size_t len, struct buf *out)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len;
	char chunk[16384];
	int rc;
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof chunk;
		rc = deflate(&z, Z_FINISH);
		if (rc == Z_STREAM_ERROR) {
			deflateEnd(&z);
			return false;
		}
		buf_append(out, chunk, sizeof chunk - z.avail_out);
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
	return true;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

size_t dmarc_rua_parse(const char *rua, struct dmarc_rua *out, size_t max)
{
	size_t n = 0;
	const char *p = rua ? rua : "";
	while (*p && n < max) {
		size_t len = strcspn(p, ",");
		const char *s = p, *e = p + len;
		p = *e ? e + 1 : e;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if ((size_t)(e - s) < 7 || strncasecmp(s, "mailto:", 7) != 0)
			continue;
		s += 7;
		/* RFC 7489 6.2: a size limit follows "!" (which a URI must escape otherwise) */
		const char *bang = memchr(s, '!', (size_t)(e - s));
		uint64_t limit = 0;
		if (bang) {
			char *end;
			unsigned long long v = strtoull(bang + 1, &end, 10);
			int shift = 0;
			if (end < e) {
				switch (tolower((unsigned char)*end)) {
				case 'k': shift = 10; break;
				case 'm': shift = 20; break;
				case 'g': shift = 30; break;
				case 't': shift = 40; break;
				default: shift = -1;
				}
				end++;
			}
			if (end != e || shift < 0 || end == bang + 1 || v > (UINT64_MAX >> 40))
				continue; /* a malformed limit: skip the URI rather than ignore the limit */
			limit = (uint64_t)v << shift;
			e = bang;
		}
		struct dmarc_rua *r = &out[n];
		size_t k = 0;
		bool bad = false;
		for (const char *q = s; q < e && !bad; q++) {
			int c = (unsigned char)*q;
			if (c == '%' && e - q >= 3 && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
				c = hexval(q[1]) * 16 + hexval(q[2]);
				q += 2;
			}
			if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '?' ||
			    k + 1 >= sizeof r->address)
				bad = true;
			else
				r->address[k++] = (char)c;
		}
		r->address[k] = 0;
		const char *at = strchr(r->address, '@');
		if (bad || !at || at == r->address || !at[1] || strchr(at + 1, '@'))
			continue;
		r->max_size = limit;
		n++;
	}
	return n;
}
