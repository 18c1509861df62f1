/* Authentication-Results (RFC 8601): formatting our header field from the SPF, DKIM and DMARC
 * results, and recognising fields that claim to be ours, so the caller can remove forged ones
 * before adding its own (RFC 8601 5). Pure code, fuzzed (fuzz/fuzz_authres.c).
 *
 * Everything that came from the message or from DNS (addresses, domains, selectors, reasons) is
 * cleaned before it is written: control bytes (CR and LF included) are dropped, invalid UTF-8
 * becomes '?', comments are escaped, values that are not RFC 8601 tokens or addresses are
 * quoted, and each piece is cut to a bounded length, so the field can never be broken. */
#ifndef YUBIN_MAILAUTH_AUTHRES_H
#define YUBIN_MAILAUTH_AUTHRES_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"
#include "mailauth/dkim.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf_record.h"

struct authres_spf {
	enum spf_result result;
	const char *mailfrom; /* MAIL FROM's address; NULL or "" for <>: then smtp.helo= is given */
	const char *helo;
	const char *reason;   /* a comment for people (may be NULL) */
};

/* Appends one whole field, "Authentication-Results: " through the final CRLF:
 *
 *   Authentication-Results: mx.example.net;
 *   	spf=pass (reason) smtp.mailfrom=a@example.com;
 *   	dkim=pass (reason) header.d=example.com header.s=sel header.a=rsa-sha256;
 *   	dmarc=fail (p=reject dis=quarantine) header.from=example.com
 *
 * spf[0..nspf): one spf= entry each (MAIL FROM's and HELO's). dkim[0..ndkim): one dkim= entry
 * each for the first DKIM_MAX_SIGNATURES (dkim=none when ndkim is 0); the others, plus
 * dkim_unlisted more, are counted in one "dkim=policy (N more signatures not checked)". dmarc NULL: no dmarc=
 * entry; a dmarc outcome without a From domain (permerror) has no header.from. Folded with
 * CRLF and a tab so lines stay within 78 characters unless one value is longer. */
void authres_format(struct buf *out, const char *authserv_id, const struct authres_spf *spf,
		    size_t nspf, const struct dkim_outcome *dkim, size_t ndkim,
		    size_t dkim_unlisted, const struct dmarc_outcome *dmarc);

/* Whether the value of an Authentication-Results field (after the colon, folding kept) names
 * authserv_id (ASCII case-insensitive): comments and whitespace before the authserv-id are
 * skipped, it may be a token or a quoted-string, and whatever follows it (a version, ';') is
 * not looked at. A field we cannot read an authserv-id from is not ours. Linear in len. */
bool authres_is_ours(const char *value, size_t len, const char *authserv_id);

#endif
