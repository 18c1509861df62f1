/* libFuzzer target: the DMARC aggregate-report reader must never crash, must give a reason for
 * every refusal, must stay within its size and record limits, and what it accepts must come
 * back the same after our own writer renders it (write, parse again: same records). The input
 * is tried as XML, as a compressed report file and as a whole mail message; and as a rua=. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dmarc_report.h"

static void round_trip(const struct dmarc_report *r)
{
	struct buf xml = BUF_INIT, err = BUF_INIT;
	dmarc_report_xml(r, &xml);
	struct dmarc_report again;
	if (!dmarc_report_parse_xml(xml.data, xml.len, &again, &err))
		abort();
	if (again.nrecords != r->nrecords || strcmp(again.domain, r->domain) != 0 ||
	    again.begin != r->begin || again.end != r->end)
		abort();
	for (size_t i = 0; i < r->nrecords; i++)
		if (again.records[i].count != r->records[i].count)
			abort();
	dmarc_report_free(&again);
	buf_free(&xml);
	buf_free(&err);
}

static void check(bool ok, struct dmarc_report *r, struct buf *err)
{
	if (!ok && !err->len)
		abort();
	if (ok) {
		if (r->nrecords > DMARC_REPORT_MAX_RECORDS || !r->report_id || !r->domain)
			abort();
		round_trip(r);
		dmarc_report_free(r);
	}
	buf_reset(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct dmarc_report r;
	struct buf err = BUF_INIT, xml = BUF_INIT;
	check(dmarc_report_parse_xml(in, size, &r, &err), &r, &err);
	bool ok = dmarc_report_decompress(in, size, &xml, &err);
	if (xml.len > DMARC_REPORT_MAX_XML || (!ok && !err.len))
		abort();
	buf_reset(&err);
	check(dmarc_report_from_message(in, size, &r, &err), &r, &err);
	char *rua = strndup(in, size);
	struct dmarc_rua list[4];
	size_t n = dmarc_rua_parse(rua, list, 4);
	for (size_t i = 0; i < n; i++)
		if (!strchr(list[i].address, '@') || strlen(list[i].address) >= sizeof list[i].address)
			abort();
	free(rua);
	buf_free(&xml);
	buf_free(&err);
	return 0;
}
