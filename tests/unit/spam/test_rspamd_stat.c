#include <string.h>

#include "spam/rspamd_probe.h"
#include "test.h"

static bool parse(const char *json, struct rspamd_stat *st, struct buf *err)
{
	return rspamd_stat_parse(json, strlen(json), st, err);
}

TEST(rspamd_stat_numbers)
{
	static const char json[] =
		"{\"read_only\":false,\"scanned\":12,\"learned\":3,\"actions\":{\"reject\":1,"
		"\"soft reject\":0,\"rewrite subject\":0,\"add header\":2,\"greylist\":0,"
		"\"no action\":9},\"spam_count\":3,\"ham_count\":9.0}";
	struct rspamd_stat st;
	struct buf err = BUF_INIT;
	CHECK(rspamd_stat_parse(json, strlen(json), &st, &err));
	CHECK_EQ_INT(st.scanned, 12);
	CHECK_EQ_INT(st.learned, 3);
	CHECK_EQ_INT(st.reject, 1);
	CHECK_EQ_INT(st.add_header, 2);
	CHECK_EQ_INT(st.no_action, 9);
	CHECK_EQ_INT(st.spam_count, 3);
	CHECK_EQ_INT(st.ham_count, 9);
	/* missing or odd values: -1, never a made-up number */
	CHECK(parse("{\"scanned\":\"x\",\"learned\":-5.0}", &st, &err));
	CHECK_EQ_INT(st.scanned, -1);
	CHECK_EQ_INT(st.learned, -1);
	CHECK_EQ_INT(st.reject, -1);
	CHECK(!parse("[1,2]", &st, &err));
	CHECK(err.len > 0);
	buf_reset(&err);
	CHECK(!parse("{\"scanned\":1,\"scanned\":2}", &st, &err));
	CHECK(!parse("{\"scanned\":", &st, &err));
	buf_free(&err);
}
