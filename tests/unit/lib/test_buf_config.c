#include <stdlib.h>

#include "lib/buf.h"
#include "lib/config.h"
#include "test.h"

TEST(buf_appends_and_formats)
{
	struct buf b = BUF_INIT;
	buf_append(&b, "ab", 2);
	buf_printf(&b, "%d-%s", 42, "x");
	buf_append_char(&b, '\0');
	CHECK_EQ_INT(b.len, 7);
	CHECK(memcmp(b.data, "ab42-x\0", 7) == 0);
	for (int i = 0; i < 10000; i++)
		buf_append_char(&b, 'z');
	CHECK_EQ_INT(b.len, 10007);
	CHECK_EQ_INT(b.data[b.len], '\0');
	buf_free(&b);
	CHECK(b.data == NULL);
}

TEST(config_defaults_and_overrides)
{
	struct config cfg;
	config_defaults(&cfg);
	CHECK_EQ_INT(cfg.smtp_port, 25);
	CHECK_EQ_INT(cfg.max_recipients, 100);
	struct buf err = BUF_INIT;
	const char *text = "# comment\nmax-recipients = 3\n  hostname=mx.example.com  \nmax-recipients = 7\n";
	CHECK(config_parse(&cfg, text, strlen(text), &err));
	CHECK_EQ_INT(cfg.max_recipients, 7);
	CHECK_EQ_STR(cfg.hostname, "mx.example.com");
	config_free(&cfg);
	buf_free(&err);
}

TEST(config_rejects_bad_lines_with_line_number)
{
	struct config cfg;
	config_defaults(&cfg);
	struct buf err = BUF_INIT;
	CHECK(!config_parse(&cfg, "\nnosuch = 1\n", 12, &err));
	CHECK(strstr(err.data, "line 2") != NULL);
	buf_reset(&err);
	CHECK(!config_parse(&cfg, "max-recipients = lots\n", 22, &err));
	CHECK(strstr(err.data, "whole number") != NULL);
	buf_reset(&err);
	CHECK(!config_parse(&cfg, "max-recipients = 0\n", 19, &err));
	CHECK(err.data && strstr(err.data, "max-recipients must be a whole number from 1 to 100000") != NULL);
	CHECK(err.data && strstr(err.data, "line 1") != NULL);
	config_free(&cfg);
	buf_free(&err);
}

TEST(config_default_file_parses_back)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	const char *overrides[] = { "hostname", "mail.example.org", "port-offset", "10000", NULL, NULL };
	config_write_default(&out, overrides);
	struct config cfg;
	config_defaults(&cfg);
	CHECK(config_parse(&cfg, out.data, out.len, &err));
	CHECK_EQ_STR(cfg.hostname, "mail.example.org");
	CHECK_EQ_INT(cfg.port_offset, 10000);
	CHECK(strstr(out.data, "#max-message-size = 26214400") != NULL);
	config_free(&cfg);
	buf_free(&out);
	buf_free(&err);
}
