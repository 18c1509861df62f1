/* libFuzzer target: the DMARC record parser must never crash and must keep every value in
 * range; the lookup, with the input as every TXT answer, must end within 5 queries; the From
 * domain reader and the organisational domain must take any bytes (the org domain being a
 * suffix of the name in lower-case ASCII). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailauth/dmarc.h"

static void check_record(const struct dmarc_record *r)
{
	if (r->pct > 100 || r->nrua > DMARC_MAX_URIS || r->nruf > DMARC_MAX_URIS ||
	    r->p > DMARC_POLICY_REJECT || r->sp > DMARC_POLICY_REJECT || r->np > DMARC_POLICY_REJECT)
		abort();
	if (r->p == DMARC_POLICY_UNSET)
		abort(); /* an OK record always has a policy */
	for (size_t i = 0; i < r->nrua; i++)
		if (strnlen(r->rua[i].uri, DMARC_MAX_URI) == DMARC_MAX_URI ||
		    strncasecmp(r->rua[i].uri, "mailto:", 7) != 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *txt = (const char *)data;
	struct dmarc_record r;
	const char *why = NULL;
	enum dmarc_record_rc rc = dmarc_record_parse(txt, size, &r, &why);
	if (rc == DMARC_RECORD_OK)
		check_record(&r);
	else if (!why)
		abort();

	/* the lookup, every TXT answer being the input (twice: a second record) */
	const char *txts[2] = { txt, txt };
	size_t lens[2] = { size, size };
	struct dmarc_lookup *l = dmarc_lookup_start("a.b.example.com");
	struct dmarc_query q;
	size_t asked = 0;
	while (dmarc_lookup_next(l, &q)) {
		if (++asked > 5 || !q.name)
			abort();
		enum dmarc_dns_status st = size && data[0] == 'n' ? DMARC_DNS_NXDOMAIN : DMARC_DNS_OK;
		dmarc_lookup_answer(l, st, txts, lens, size % 3 == 0 ? 2 : 1);
	}
	const struct dmarc_policy_lookup *pl = dmarc_lookup_policy(l);
	if (pl->found == DMARC_FOUND_FROM || pl->found == DMARC_FOUND_ORG)
		check_record(&pl->record);
	struct dkim_outcome dk = { .result = DKIM_PASS, .domain = "example.com" };
	struct dmarc_input in = { "a.b.example.com", pl, SPF_PASS, "b.example.com", &dk, 1,
				  size % 100 };
	struct dmarc_outcome o;
	dmarc_evaluate(&in, &o);
	if (o.result > DMARC_RESULT_PERMERROR || !o.reason[0])
		abort();
	dmarc_lookup_free(l);

	char out[DMARC_DOMAIN_MAX];
	dmarc_from_domain(txt, size, out, sizeof out, &why);
	if (size < 300) {
		/* the org domain is the normalised name or a suffix of it at a label boundary, in
		 * lower-case ASCII */
		char *s = strndup(txt, size), norm[DMARC_DOMAIN_MAX];
		if (dmarc_org_domain(s, out, sizeof out)) {
			size_t ol = strlen(out), nl;
			if (!dmarc_domain_normalize(s, norm, sizeof norm) || (nl = strlen(norm)) < ol ||
			    strcmp(norm + nl - ol, out) != 0 || (nl > ol && norm[nl - ol - 1] != '.'))
				abort();
			for (size_t i = 0; i < ol; i++)
				if ((unsigned char)out[i] >= 0x80 || (out[i] >= 'A' && out[i] <= 'Z'))
					abort();
		}
		free(s);
	}
	return 0;
}
