#include <stdlib.h>
#include <time.h>
#include <zip.h>
#include <zlib.h>

#include "lib/buf.h"
#include "mailauth/dmarc_report.h"
#include "mime/mime.h"
#include "test.h"

/* Shaped like the reports large providers send (RFC 7489 appendix C, with the 2.0 namespace
 * some use, whitespace and two DKIM signatures of which the second passes). */
static const char sample[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n"
	"<feedback xmlns=\"http://dmarc.org/dmarc-xml/0.1\">\n"
	"  <report_metadata>\n"
	"    <org_name>google.com</org_name>\n"
	"    <email>noreply-dmarc-support@google.com</email>\n"
	"    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>\n"
	"    <report_id>5717107811868587391</report_id>\n"
	"    <date_range>\n      <begin>1706659200</begin>\n      <end>1706745599</end>\n"
	"    </date_range>\n  </report_metadata>\n"
	"  <policy_published>\n    <domain>example.com</domain>\n    <adkim>r</adkim>\n"
	"    <aspf>r</aspf>\n    <p>none</p>\n    <sp>none</sp>\n    <pct>100</pct>\n"
	"    <np>none</np>\n  </policy_published>\n"
	"  <record>\n    <row>\n      <source_ip>203.0.113.5</source_ip>\n"
	"      <count>120</count>\n      <policy_evaluated>\n"
	"        <disposition>none</disposition>\n        <dkim>fail</dkim>\n"
	"        <spf>fail</spf>\n        <reason><type>local_policy</type></reason>\n"
	"      </policy_evaluated>\n    </row>\n"
	"    <identifiers>\n      <header_from>example.com</header_from>\n    </identifiers>\n"
	"    <auth_results>\n      <spf>\n        <domain>forms.example.net</domain>\n"
	"        <result>softfail</result>\n      </spf>\n    </auth_results>\n  </record>\n"
	"  <record>\n    <row>\n      <source_ip>2001:db8::25</source_ip>\n"
	"      <count>3</count>\n      <policy_evaluated>\n"
	"        <disposition>none</disposition>\n        <dkim>pass</dkim>\n"
	"        <spf>pass</spf>\n      </policy_evaluated>\n    </row>\n"
	"    <identifiers>\n      <envelope_from>example.com</envelope_from>\n"
	"      <header_from>example.com</header_from>\n    </identifiers>\n"
	"    <auth_results>\n"
	"      <dkim>\n        <domain>mailer.example.org</domain>\n"
	"        <selector>s1</selector>\n        <result>fail</result>\n      </dkim>\n"
	"      <dkim>\n        <domain>example.com</domain>\n"
	"        <selector>yubin</selector>\n        <result>pass</result>\n      </dkim>\n"
	"      <spf>\n        <domain>example.com</domain>\n        <scope>mfrom</scope>\n"
	"        <result>pass</result>\n      </spf>\n    </auth_results>\n  </record>\n"
	"</feedback>\n";

static void check_sample(const struct dmarc_report *r)
{
	CHECK_EQ_STR(r->org_name, "google.com");
	CHECK_EQ_STR(r->report_id, "5717107811868587391");
	CHECK_EQ_INT(r->begin, 1706659200);
	CHECK_EQ_INT(r->end, 1706745599);
	CHECK_EQ_STR(r->domain, "example.com");
	CHECK_EQ_STR(r->p, "none");
	CHECK_EQ_INT(r->pct, 100);
	CHECK_EQ_INT(r->nrecords, 2);
	if (r->nrecords != 2)
		return;
	const struct dmarc_report_record *a = &r->records[0], *b = &r->records[1];
	CHECK_EQ_STR(a->source_ip, "203.0.113.5");
	CHECK_EQ_INT(a->count, 120);
	CHECK_EQ_STR(a->disposition, "none");
	CHECK_EQ_STR(a->dkim, "fail");
	CHECK_EQ_STR(a->spf, "fail");
	CHECK_EQ_STR(a->header_from, "example.com");
	CHECK_EQ_STR(a->dkim_result, "");
	CHECK_EQ_STR(a->spf_domain, "forms.example.net");
	CHECK_EQ_STR(a->spf_result, "softfail");
	CHECK_EQ_STR(b->source_ip, "2001:db8::25");
	CHECK_EQ_INT(b->count, 3);
	CHECK_EQ_STR(b->dkim, "pass");
	CHECK_EQ_STR(b->envelope_from, "example.com");
	CHECK_EQ_STR(b->dkim_domain, "example.com"); /* the passing signature wins */
	CHECK_EQ_STR(b->dkim_selector, "yubin");
	CHECK_EQ_STR(b->dkim_result, "pass");
	CHECK_EQ_STR(b->spf_scope, "mfrom");
	CHECK_EQ_STR(b->spf_result, "pass");
}

static struct buf gzip_of(const char *data, size_t len)
{
	struct buf out = BUF_INIT;
	CHECK(dmarc_report_gzip(data, len, &out));
	return out;
}

/* A zip made with libzip in memory, holding the given files. */
static struct buf zip_of(const char *const *names, const char *const *datas, const size_t *lens,
			 size_t n)
{
	struct buf out = BUF_INIT;
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
	zip_source_keep(src);
	zip_t *z = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
	CHECK(z != NULL);
	for (size_t i = 0; i < n; i++) {
		zip_source_t *fs = zip_source_buffer(z, datas[i], lens[i], 0);
		CHECK(zip_file_add(z, names[i], fs, ZIP_FL_OVERWRITE) >= 0);
	}
	CHECK(zip_close(z) == 0);
	CHECK(zip_source_open(src) == 0);
	zip_source_seek(src, 0, SEEK_END);
	zip_int64_t size = zip_source_tell(src);
	zip_source_seek(src, 0, SEEK_SET);
	buf_reserve(&out, (size_t)size);
	out.len = (size_t)zip_source_read(src, out.data, (zip_uint64_t)size);
	zip_source_close(src);
	zip_source_free(src);
	zip_error_fini(&ze);
	return out;
}

static void base64(const char *data, size_t len, struct buf *out)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned char)data[i] << 16;
		if (i + 1 < len)
			v |= (unsigned char)data[i + 1] << 8;
		if (i + 2 < len)
			v |= (unsigned char)data[i + 2];
		buf_append_char(out, abc[v >> 18 & 63]);
		buf_append_char(out, abc[v >> 12 & 63]);
		buf_append_char(out, i + 1 < len ? abc[v >> 6 & 63] : '=');
		buf_append_char(out, i + 2 < len ? abc[v & 63] : '=');
		if (i % 57 == 54)
			buf_append_str(out, "\r\n");
	}
	buf_append_str(out, "\r\n");
}

static struct buf message_with(const char *type, const char *filename, const char *data,
			       size_t len)
{
	struct buf m = BUF_INIT;
	buf_printf(&m, "From: noreply-dmarc-support@google.com\r\nTo: dmarc-reports@example.com\r\n"
		       "Subject: Report domain: example.com Submitter: google.com\r\n"
		       "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
		       "--b1\r\nContent-Type: text/plain\r\n\r\nThis is an aggregate report.\r\n"
		       "--b1\r\nContent-Type: %s; name=\"%s\"\r\n"
		       "Content-Disposition: attachment; filename=\"%s\"\r\n"
		       "Content-Transfer-Encoding: base64\r\n\r\n", type, filename, filename);
	base64(data, len, &m);
	buf_append_str(&m, "--b1--\r\n");
	return m;
}

TEST(dmarc_report_xml_sample)
{
	struct dmarc_report r;
	struct buf err = BUF_INIT;
	CHECK(dmarc_report_parse_xml(sample, sizeof sample - 1, &r, &err));
	check_sample(&r);
	dmarc_report_free(&r);
	buf_free(&err);
}

TEST(dmarc_report_gzip_zip_xml_messages)
{
	struct buf gz = gzip_of(sample, sizeof sample - 1);
	const char *names[] = { "readme.txt", "google.com!example.com!1706659200!1706745599.xml" };
	const char *datas[] = { "not it", sample };
	size_t lens[] = { 6, sizeof sample - 1 };
	struct buf zip = zip_of(names, datas, lens, 2);
	struct { const char *type, *name; const char *data; size_t len; } cases[] = {
		{ "application/gzip", "google.com!example.com!1706659200!1706745599.xml.gz",
		  gz.data, gz.len },
		{ "application/zip", "google.com!example.com!1706659200!1706745599.zip",
		  zip.data, zip.len },
		{ "text/xml", "report.xml", sample, sizeof sample - 1 },
		/* some send it as octet-stream: the bytes decide, not the label */
		{ "application/octet-stream", "report", gz.data, gz.len },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf m = message_with(cases[i].type, cases[i].name, cases[i].data, cases[i].len);
		struct dmarc_report r;
		struct buf err = BUF_INIT;
		bool ok = dmarc_report_from_message(m.data, m.len, &r, &err);
		if (!ok)
			printf("  case %zu: %s\n", i, err.data ? err.data : "");
		CHECK(ok);
		if (ok)
			check_sample(&r);
		dmarc_report_free(&r);
		buf_free(&err);
		buf_free(&m);
	}
	buf_free(&gz);
	buf_free(&zip);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

TEST(dmarc_report_bombs_refused)
{
	/* 256 MiB of "<" compressed: about 1 MB of gzip. Made by deflating one zero-filled 1 MiB
	 * block at a time, so the test itself stays cheap. */
	size_t chunk = 1 << 20;
	char *zeros = calloc(1, chunk);
	memset(zeros, '<', chunk);
	z_stream z;
	memset(&z, 0, sizeof z);
	CHECK(deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	struct buf gz = BUF_INIT;
	for (int i = 0; i < 256; i++) {
		z.next_in = (Bytef *)zeros;
		z.avail_in = (uInt)chunk;
		do {
			char out[65536];
			z.next_out = (Bytef *)out;
			z.avail_out = sizeof out;
			deflate(&z, i == 255 ? Z_FINISH : Z_NO_FLUSH);
			buf_append(&gz, out, sizeof out - z.avail_out);
		} while (z.avail_in || z.avail_out == 0);
	}
	deflateEnd(&z);
	CHECK(gz.len < 8 << 20);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct buf xml = BUF_INIT, err = BUF_INIT;
	CHECK(!dmarc_report_decompress(gz.data, gz.len, &xml, &err));
	CHECK(err.data && strstr(err.data, "larger than"));
	CHECK(xml.len <= DMARC_REPORT_MAX_XML);
	CHECK(seconds_since(&t0) < 2.0);
	buf_free(&xml);
	buf_free(&err);
	/* the same inside a message */
	struct buf m = message_with("application/gzip", "bomb.xml.gz", gz.data, gz.len);
	struct dmarc_report r;
	CHECK(!dmarc_report_from_message(m.data, m.len, &r, &err));
	CHECK(err.data && strstr(err.data, "larger than"));
	buf_free(&err);
	buf_free(&m);
	buf_free(&gz);

	/* zip: a 64 MiB entry (deflate packs it to about 64 KB) */
	size_t big = 64u << 20;
	char *data = malloc(big);
	memset(data, ' ', big);
	const char *names[] = { "bomb.xml" };
	const char *datas[] = { data };
	size_t lens[] = { big };
	struct buf zip = zip_of(names, datas, lens, 1);
	free(data);
	CHECK(zip.len < 1 << 20);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(!dmarc_report_decompress(zip.data, zip.len, &xml, &err));
	CHECK(err.data && strstr(err.data, "larger than"));
	CHECK(seconds_since(&t0) < 2.0);
	buf_free(&xml);
	buf_free(&err);
	buf_free(&zip);
	free(zeros);
}

static bool refused(const char *xml, const char *why)
{
	struct dmarc_report r;
	struct buf err = BUF_INIT;
	bool ok = dmarc_report_parse_xml(xml, strlen(xml), &r, &err);
	bool said = err.data && strstr(err.data, why);
	if (!said)
		printf("  error was: %s\n", err.data ? err.data : "(none)");
	dmarc_report_free(&r);
	buf_free(&err);
	return !ok && said;
}

TEST(dmarc_report_malformed)
{
	CHECK(refused("", "empty"));
	CHECK(refused("<feedback><report_metadata><report_id>1</report_id>", "malformed"));
	CHECK(refused("<feedback><a></b></feedback>", "malformed"));
	CHECK(refused("<html><body>hi</body></html>", "not a DMARC aggregate report"));
	CHECK(refused("<feedback><policy_published><domain>x.example</domain>"
		      "</policy_published></feedback>", "report_id"));
	CHECK(refused("<feedback><report_metadata><report_id>1</report_id></report_metadata>"
		      "</feedback>", "policy domain"));
	CHECK(refused("<feedback><report_metadata><report_id>1</report_id><date_range><begin>x"
		      "</begin></date_range></report_metadata></feedback>", "begin"));
	/* billion laughs and external entities never get parsed */
	CHECK(refused("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
		      "<feedback><report_metadata><org_name>&lol2;</org_name></report_metadata>"
		      "</feedback>", "DOCTYPE"));
	CHECK(refused("<!DOCTYPE f [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><feedback>&x;"
		      "</feedback>", "DOCTYPE"));
	/* an undeclared entity is an error, not an expansion */
	CHECK(refused("<feedback><report_metadata><report_id>&x;</report_id></report_metadata>"
		      "</feedback>", "malformed"));
	/* nesting deeper than any report */
	struct buf deep = BUF_INIT;
	buf_append_str(&deep, "<feedback>");
	for (int i = 0; i < 40; i++)
		buf_append_str(&deep, "<a>");
	for (int i = 0; i < 40; i++)
		buf_append_str(&deep, "</a>");
	buf_append_str(&deep, "</feedback>");
	CHECK(refused(deep.data, "nested too deeply"));
	buf_free(&deep);
	/* a message without a report */
	struct dmarc_report r;
	struct buf err = BUF_INIT;
	const char plain[] = "From: a@b.example\r\nSubject: hi\r\n\r\nJust text.\r\n";
	CHECK(!dmarc_report_from_message(plain, sizeof plain - 1, &r, &err));
	CHECK(err.data && strstr(err.data, "no report attached"));
	buf_free(&err);
	struct buf junk = message_with("application/zip", "r.zip", "PK\x03\x04garbage", 11);
	CHECK(!dmarc_report_from_message(junk.data, junk.len, &r, &err));
	CHECK(err.data && strstr(err.data, "zip"));
	buf_free(&err);
	buf_free(&junk);
	/* a bounce quoting a report (an attached message) holds no report of its own */
	struct buf inner = message_with("text/xml", "report.xml", sample, sizeof sample - 1);
	struct buf bounce = BUF_INIT;
	buf_printf(&bounce, "From: MAILER-DAEMON@x.example\r\nMIME-Version: 1.0\r\n"
			    "Content-Type: multipart/report; report-type=delivery-status; "
			    "boundary=\"o\"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\n"
			    "Undeliverable.\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n");
	buf_append(&bounce, inner.data, inner.len);
	buf_append_str(&bounce, "\r\n--o--\r\n");
	CHECK(!dmarc_report_from_message(bounce.data, bounce.len, &r, &err));
	CHECK(err.data && strstr(err.data, "no report attached"));
	buf_free(&err);
	buf_free(&inner);
	buf_free(&bounce);
}

TEST(dmarc_report_record_limit)
{
	struct buf x = BUF_INIT;
	buf_append_str(&x, "<feedback><report_metadata><report_id>1</report_id></report_metadata>"
			   "<policy_published><domain>example.com</domain></policy_published>");
	for (int i = 0; i <= DMARC_REPORT_MAX_RECORDS; i++)
		buf_append_str(&x, "<record/>");
	buf_append_str(&x, "</feedback>");
	CHECK(refused(x.data, "more than"));
	buf_free(&x);
}

TEST(dmarc_report_write_round_trip)
{
	struct dmarc_report_record recs[] = {
		{ .source_ip = "192.0.2.7", .count = 5, .disposition = "none", .dkim = "fail",
		  .spf = "pass", .header_from = "a<b>&\"c'.example", .envelope_from = "e.example",
		  .spf_domain = "e.example", .spf_scope = "mfrom", .spf_result = "pass" },
		{ .source_ip = "2001:db8::1", .count = 1, .disposition = "reject", .dkim = "pass",
		  .spf = "fail", .header_from = "d.example", .dkim_domain = "d.example",
		  .dkim_selector = "sel", .dkim_result = "pass", .spf_result = "fail" },
	};
	struct dmarc_report in = {
		.org_name = "mail.example.net", .email = "dmarc-reports@example.net",
		.report_id = "r-1\x01", .begin = 100, .end = 200, .domain = "d.example",
		.adkim = "s", .aspf = "r", .p = "reject", .pct = 50, .records = recs, .nrecords = 2,
	};
	struct buf xml = BUF_INIT, gz = BUF_INIT, back = BUF_INIT, err = BUF_INIT;
	dmarc_report_xml(&in, &xml);
	CHECK(dmarc_report_gzip(xml.data, xml.len, &gz));
	CHECK(dmarc_report_decompress(gz.data, gz.len, &back, &err));
	CHECK(back.len == xml.len && memcmp(back.data, xml.data, xml.len) == 0);
	struct dmarc_report out;
	CHECK(dmarc_report_parse_xml(back.data, back.len, &out, &err));
	CHECK_EQ_STR(out.report_id, "r-1"); /* control bytes dropped */
	CHECK_EQ_STR(out.adkim, "s");
	CHECK_EQ_STR(out.sp, "reject");
	CHECK_EQ_INT(out.pct, 50);
	CHECK_EQ_INT(out.nrecords, 2);
	if (out.nrecords == 2) {
		CHECK_EQ_STR(out.records[0].header_from, "a<b>&\"c'.example");
		CHECK_EQ_INT(out.records[0].count, 5);
		CHECK_EQ_STR(out.records[0].dkim_result, "");
		CHECK_EQ_STR(out.records[1].disposition, "reject");
		CHECK_EQ_STR(out.records[1].dkim_selector, "sel");
		CHECK_EQ_STR(out.records[1].spf_scope, "mfrom");
	}
	dmarc_report_free(&out);
	buf_free(&xml);
	buf_free(&gz);
	buf_free(&back);
	buf_free(&err);
}

TEST(dmarc_rua_parse_list)
{
	struct dmarc_rua r[4];
	CHECK_EQ_INT(dmarc_rua_parse("mailto:dmarc@example.com, mailto:agg%2Bx@rep.example!10m,"
				     "https://x.example/,mailto:big@r.example!2k , mailto:bad@x!9q,"
				     "mailto:noat", r, 4), 3);
	CHECK_EQ_STR(r[0].address, "dmarc@example.com");
	CHECK_EQ_INT(r[0].max_size, 0);
	CHECK_EQ_STR(r[1].address, "agg+x@rep.example");
	CHECK_EQ_INT(r[1].max_size, 10 << 20);
	CHECK_EQ_STR(r[2].address, "big@r.example");
	CHECK_EQ_INT(r[2].max_size, 2048);
	CHECK_EQ_INT(dmarc_rua_parse("mailto:a@b.example,mailto:c@d.example", r, 1), 1);
	CHECK_EQ_INT(dmarc_rua_parse(NULL, r, 4), 0);
}
