/* libFuzzer target: the decoders on their own. The first byte picks a charset; the rest goes
 * through the transfer-encoding decoders, RFC 2047 header decoding, charset conversion, address
 * lists, case folding and CRLF normalisation. Outputs meant as UTF-8 must be valid UTF-8. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "mime/mime.h"

static const char *const charsets[] = {
	"iso-2022-jp", "shift_jis", "euc-jp", "utf-8", "iso-8859-1", "windows-1252", "utf-7",
	"gb2312", "ks_c_5601-1987", "big5", "koi8-r", "x-unknown", "iso-2022-jp-2", "cp932",
	"us-ascii", "bogus//x",
};

static void must_be_utf8(const struct buf *b)
{
	struct buf tmp = BUF_INIT;
	if (!mime_utf8_sanitize(b->data ? b->data : "", b->len, &tmp))
		abort();
	buf_free(&tmp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *cs = charsets[data[0] % (sizeof charsets / sizeof charsets[0])];
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	struct buf b = BUF_INIT;

	base64_decode_lenient(in, len, &b);
	if (b.len > len)
		abort();
	buf_reset(&b);
	mime_decode_qp(in, len, &b);
	if (b.len > len)
		abort();
	buf_reset(&b);
	mime_decode_cte(mime_cte_from_name(in, len < 20 ? len : 20), in, len, &b);
	buf_reset(&b);

	mime_header_decode(in, len, &b);
	must_be_utf8(&b);
	buf_reset(&b);
	mime_charset_to_utf8(cs, in, len, &b);
	must_be_utf8(&b);
	buf_reset(&b);
	mime_search_fold(in, len, &b);
	must_be_utf8(&b);
	buf_reset(&b);
	mime_imap_address_list(in, len, &b, data[0] & 1 ? MIME_IMAP_UTF8 : 0);
	if (b.len == 0)
		abort();
	buf_reset(&b);
	mime_header_unfold(in, len, &b);
	if (b.len > len || memchr(b.data ? b.data : "", '\n', b.len))
		abort();
	buf_reset(&b);
	mime_normalize_crlf(in, len, &b);
	buf_reset(&b);
	mime_imap_append_string(&b, in, len, 0);
	mime_search_contains(in, len, in + len / 2, len - len / 2);
	buf_free(&b);
	return 0;
}
