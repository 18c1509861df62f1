#include <stdlib.h>
#include <unistd.h>

#include "mailauth/dmarc_report.h"
#include "outbound/dmarc_send.h"
#include "store/store.h"
#include "test.h"
#include "tmpdir.h"

static struct store *fresh(char dir[TEST_TMPDIR_SIZE])
{
	if (!test_tmpdir_make(dir))
		return NULL;
	struct buf err = BUF_INIT;
	struct store *s = store_open_sqlite(dir, true, &err);
	if (!s)
		test_tmpdir_remove(dir);
	buf_free(&err);
	return s;
}

static void gone(struct store *s, const char *dir)
{
	s->ops->close(s);
	test_tmpdir_remove(dir);
}

struct got {
	int reports;
	char domain[64], rua[128];
	size_t nrecords;
	int64_t total, first_count, begin, end;
	char first_ip[64], first_dkim_domain[64], p[16];
};

static bool got_one(void *ctx, struct dmarc_report *r, const char *rua)
{
	struct got *g = ctx;
	g->reports++;
	snprintf(g->domain, sizeof g->domain, "%s", r->domain);
	snprintf(g->rua, sizeof g->rua, "%s", rua);
	snprintf(g->p, sizeof g->p, "%s", r->p);
	g->nrecords = r->nrecords;
	g->begin = r->begin;
	g->end = r->end;
	for (size_t i = 0; i < r->nrecords; i++)
		g->total += r->records[i].count;
	if (r->nrecords) {
		g->first_count = r->records[0].count;
		snprintf(g->first_ip, sizeof g->first_ip, "%s", r->records[0].source_ip);
		snprintf(g->first_dkim_domain, sizeof g->first_dkim_domain, "%s",
			 r->records[0].dkim_domain);
	}
	return true;
}

TEST(store_dmarc_observations_to_reports)
{
	char dir[TEST_TMPDIR_SIZE];
	struct store *s = fresh(dir);
	CHECK(s != NULL);
	if (!s)
		return;
	int64_t day = 20000, t = day * 86400 + 3600;
	struct dmarc_observation o = {
		.time = t, .source_ip = "192.0.2.1", .header_from = "sender.example",
		.envelope_from = "sender.example", .policy_domain = "sender.example", .p = "reject",
		.pct = 100, .rua = "mailto:agg@sender.example", .disposition = "none",
		.dkim_aligned = "pass", .spf_aligned = "pass", .dkim_domain = "sender.example",
		.dkim_selector = "s1", .dkim_result = "pass", .spf_domain = "sender.example",
		.spf_scope = "mfrom", .spf_result = "pass",
	};
	struct buf err = BUF_INIT;
	for (int i = 0; i < 5; i++)
		CHECK(s->ops->dmarc_observe(s, &o, &err));
	o.source_ip = "203.0.113.9";
	o.dkim_aligned = o.spf_aligned = "fail";
	o.dkim_domain = NULL;
	o.dkim_result = NULL;
	o.disposition = "reject";
	CHECK(s->ops->dmarc_observe(s, &o, &err));
	o.time = t + 86400; /* the next day: not in a report cut at day + 1 */
	CHECK(s->ops->dmarc_observe(s, &o, &err));
	struct got g;
	memset(&g, 0, sizeof g);
	CHECK(s->ops->dmarc_pending(s, day + 1, 0, 10, 100, got_one, &g));
	CHECK_EQ_INT(g.reports, 1);
	CHECK_EQ_STR(g.domain, "sender.example");
	CHECK_EQ_STR(g.rua, "mailto:agg@sender.example");
	CHECK_EQ_STR(g.p, "reject");
	CHECK_EQ_INT(g.nrecords, 2);
	CHECK_EQ_INT(g.total, 6);
	CHECK_EQ_INT(g.first_count, 5);
	CHECK_EQ_STR(g.first_ip, "192.0.2.1");
	CHECK_EQ_STR(g.first_dkim_domain, "sender.example");
	CHECK_EQ_INT(g.begin, t);
	CHECK_EQ_INT(g.end, t);
	CHECK(s->ops->dmarc_reported(s, "sender.example", day + 1, t + 100, &err));
	/* sent today: not again the same day; the next day's row waits for its own report */
	memset(&g, 0, sizeof g);
	CHECK(s->ops->dmarc_pending(s, day + 2, day * 86400, 10, 100, got_one, &g));
	CHECK_EQ_INT(g.reports, 0);
	memset(&g, 0, sizeof g);
	CHECK(s->ops->dmarc_pending(s, day + 2, (day + 1) * 86400, 10, 100, got_one, &g));
	CHECK_EQ_INT(g.reports, 1);
	CHECK_EQ_INT(g.total, 1);
	buf_free(&err);
	gone(s, dir);
}

static void count_rows(void *ctx, const char *const *c, size_t n)
{
	if (n >= 13 && strcmp(c[1], "203.0.113.5") == 0)
		*(long long *)ctx = atoll(c[2]) * 1000 + atoll(c[5]);
}

TEST(store_dmarc_received_reports)
{
	char dir[TEST_TMPDIR_SIZE];
	struct store *s = fresh(dir);
	CHECK(s != NULL);
	if (!s)
		return;
	struct dmarc_report_record recs[] = {
		{ .source_ip = "203.0.113.5", .count = 7, .disposition = "none", .dkim = "fail",
		  .spf = "fail", .header_from = "example.com" },
		{ .source_ip = "192.0.2.9", .count = 2, .disposition = "none", .dkim = "pass",
		  .spf = "fail", .header_from = "example.com" },
	};
	struct dmarc_report r = { .org_name = "google.com", .report_id = "1", .begin = 1000,
				  .end = 2000, .domain = "example.com", .p = "none", .records = recs,
				  .nrecords = 2 };
	struct buf err = BUF_INIT;
	CHECK(s->ops->dmarc_report_add(s, &r, 3000, &err));
	CHECK(!s->ops->dmarc_report_add(s, &r, 3000, &err));
	CHECK(err.data && strstr(err.data, "already stored"));
	r.report_id = "2";
	CHECK(s->ops->dmarc_report_add(s, &r, 3000, &err));
	long long v = 0;
	s->ops->dmarc_summary(s, NULL, 0, count_rows, &v);
	CHECK_EQ_INT(v, 14014); /* 14 messages, 14 failing both */
	v = 0;
	s->ops->dmarc_summary(s, "other.example", 0, count_rows, &v);
	CHECK_EQ_INT(v, 0);
	s->ops->dmarc_summary(s, "example.com", 2001, count_rows, &v);
	CHECK_EQ_INT(v, 0);
	buf_free(&err);
	gone(s, dir);
}

TEST(dmarc_send_message_parses_back)
{
	struct dmarc_report_record rec = { .source_ip = "192.0.2.1", .count = 3,
					   .header_from = "d.example" };
	struct dmarc_report r = { .org_name = "mx.example.net", .report_id = "id-1",
				  .begin = 86400, .end = 172799, .domain = "d.example",
				  .records = &rec, .nrecords = 1 };
	struct buf xml = BUF_INIT, gz = BUF_INIT, msg = BUF_INIT, err = BUF_INIT;
	dmarc_report_xml(&r, &xml);
	CHECK(dmarc_report_gzip(xml.data, xml.len, &gz));
	dmarc_send_message("dmarc-reports@example.net", "agg@d.example", "mx.example.net",
			   "d.example", "id-1", 86400, 172799, gz.data, gz.len, 200000, &msg);
	CHECK(strstr(msg.data, "Subject: Report Domain: d.example Submitter: mx.example.net "
			       "Report-ID: <id-1>\r\n") != NULL);
	CHECK(strstr(msg.data, "filename=\"mx.example.net!d.example!86400!172799.xml.gz\"") !=
	      NULL);
	struct dmarc_report back;
	CHECK(dmarc_report_from_message(msg.data, msg.len, &back, &err));
	if (back.nrecords == 1) {
		CHECK_EQ_STR(back.records[0].source_ip, "192.0.2.1");
		CHECK_EQ_INT(back.records[0].count, 3);
	}
	CHECK_EQ_STR(back.org_name ? back.org_name : "", "mx.example.net");
	dmarc_report_free(&back);
	buf_free(&xml);
	buf_free(&gz);
	buf_free(&msg);
	buf_free(&err);
}
