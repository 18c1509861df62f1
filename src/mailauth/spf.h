/* SPF check_host() (RFC 7208) as a resumable evaluator that never does I/O: it asks for
 * one DNS query at a time and is handed the answer, so the event loop can drive it with the
 * asynchronous resolver and tests can drive it from a table.
 *
 *   struct spf_check *c = spf_check_start(ip, helo, mailfrom, receiver, now);
 *   struct spf_query q;
 *   while (spf_check_next(c, &q)) { ...resolve q.type q.name...; spf_check_answer(c, &a); }
 *   spf_check_result(c) ... spf_check_free(c);
 */
#ifndef YUBIN_SPF_H
#define YUBIN_SPF_H
#include <stdbool.h>
#include <stddef.h>

#include "mailauth/spf_record.h"

enum spf_qtype { SPF_QTXT, SPF_QA, SPF_QAAAA, SPF_QMX, SPF_QPTR };

enum spf_dns_status {
	SPF_DNS_OK,       /* records (possibly none: NODATA) */
	SPF_DNS_NXDOMAIN, /* name error */
	SPF_DNS_TEMPFAIL, /* timeout, SERVFAIL, any other error */
};

/* One record of an answer. TXT: the record's strings concatenated (section 3.3); A: 4
 * bytes; AAAA: 16 bytes; MX: the exchange's name; PTR: the name. CNAMEs are the resolver's
 * business: the answer is for the name asked, after following them. */
struct spf_rr {
	const char *data;
	size_t len;
};

struct spf_answer {
	enum spf_dns_status status;
	const struct spf_rr *rrs;
	size_t nrrs;
};

struct spf_query {
	enum spf_qtype type;
	const char *name; /* owned by the check; valid until the next call on it */
};

/* Most distinct DNS queries one check may make. The RFC's limits (10 DNS terms, 10 names
 * per MX or PTR) keep a real check far below this; it bounds time and memory whatever the
 * answers are. */
#define SPF_MAX_QUERIES 200

struct spf_check;

/* Starts check_host() for the MAIL FROM identity: ip is the client's address as text
 * (IPv4, IPv6, or IPv4-mapped IPv6); mailfrom may be "" (then postmaster@helo is checked,
 * which is also the HELO identity check). receiver is the %{r} of explanations (NULL:
 * "unknown"), now the %{t}. Returns NULL when ip is not an address. */
struct spf_check *spf_check_start(const char *ip, const char *helo, const char *mailfrom,
				  const char *receiver, long long now);
/* The HELO identity (section 2.3): check_host() for postmaster@helo. */
struct spf_check *spf_check_start_helo(const char *ip, const char *helo, const char *receiver,
				       long long now);
/* True with *q set when the check needs an answer; false when the result is known. */
bool spf_check_next(struct spf_check *c, struct spf_query *q);
/* The answer to the query spf_check_next last returned. The records are copied. */
void spf_check_answer(struct spf_check *c, const struct spf_answer *a);
enum spf_result spf_check_result(const struct spf_check *c);
/* The term that decided the result ("-all", "redirect=..."), "default" when none
 * matched; the explanation of a fail (from exp=), NULL when there is none; a reason for
 * none/temperror/permerror. All may be NULL; owned by the check. */
const char *spf_check_mechanism(const struct spf_check *c);
const char *spf_check_explanation(const struct spf_check *c);
const char *spf_check_reason(const struct spf_check *c);
/* How many DNS queries the check made. */
size_t spf_check_queries(const struct spf_check *c);
void spf_check_free(struct spf_check *c);

const char *spf_qtype_name(enum spf_qtype t);

#endif
