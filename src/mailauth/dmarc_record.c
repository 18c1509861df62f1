/* The DMARC record (RFC 7489 6.3 and 6.4, np= from RFC 9091, psd= from DMARCbis): a tag list
 * like DKIM's. Pure code over the TXT text; one pass over it, nothing kept but the fixed-size
 * record. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mailauth/dmarc.h"

static bool is_wsp(char c)
{
	/* TXT text has no folding, but CR and LF would only be a sign of a broken zone: take
	 * them as space rather than as part of a value. */
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* s[0..len) trimmed of whitespace on both sides. */
static void trim(const char **s, size_t *len)
{
	while (*len && is_wsp(**s))
		(*s)++, (*len)--;
	while (*len && is_wsp((*s)[*len - 1]))
		(*len)--;
}

static bool ieq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

const char *dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_QUARANTINE: return "quarantine";
	case DMARC_POLICY_REJECT: return "reject";
	case DMARC_POLICY_UNSET:
	case DMARC_POLICY_NONE: break;
	}
	return "none";
}

static enum dmarc_policy parse_policy(const char *v, size_t len)
{
	if (ieq(v, len, "none"))
		return DMARC_POLICY_NONE;
	if (ieq(v, len, "quarantine"))
		return DMARC_POLICY_QUARANTINE;
	if (ieq(v, len, "reject"))
		return DMARC_POLICY_REJECT;
	return DMARC_POLICY_UNSET;
}

/* 1*DIGIT into *out, no more than max. */
static bool parse_uint(const char *v, size_t len, uint64_t max, uint64_t *out)
{
	if (len == 0 || len > 20)
		return false;
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		unsigned d = (unsigned)(v[i] - '0');
		if (n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*out = n;
	return true;
}

/* One dmarc-uri (6.4): URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]. Returns false when it
 * is not syntactically a URI; *keep says whether it is a mailto: URI we can keep. */
static bool parse_uri(const char *v, size_t len, struct dmarc_uri *u, bool *keep)
{
	*keep = false;
	uint64_t size = 0;
	const char *bang = memchr(v, '!', len);
	size_t ulen = bang ? (size_t)(bang - v) : len;
	if (bang) {
		const char *s = bang + 1;
		size_t slen = len - ulen - 1;
		unsigned shift = 0;
		if (slen) {
			switch (s[slen - 1] | 0x20) {
			case 'k': shift = 10; break;
			case 'm': shift = 20; break;
			case 'g': shift = 30; break;
			case 't': shift = 40; break;
			}
			if (shift)
				slen--;
		}
		if (!parse_uint(s, slen, UINT64_MAX >> shift, &size))
			return false;
		size <<= shift;
	}
	/* scheme ":" something, printable ASCII without spaces (RFC 3986; commas and '!' in a
	 * URI must be %-encoded, 6.2) */
	size_t i = 0;
	if (ulen == 0 || !((v[0] | 0x20) >= 'a' && (v[0] | 0x20) <= 'z'))
		return false;
	while (i < ulen && v[i] != ':') {
		char c = v[i];
		if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') &&
		    c != '+' && c != '-' && c != '.')
			return false;
		i++;
	}
	if (i == ulen || i + 1 == ulen)
		return false;
	for (size_t j = i + 1; j < ulen; j++)
		if ((unsigned char)v[j] <= ' ' || (unsigned char)v[j] >= 0x7f)
			return false;
	if (i == 6 && strncasecmp(v, "mailto", 6) == 0 && memchr(v + 7, '@', ulen - 7) &&
	    ulen < sizeof u->uri) {
		memcpy(u->uri, v, ulen);
		u->uri[ulen] = '\0';
		u->max_size = size;
		*keep = true;
	}
	return true;
}

/* A comma-separated list of URIs. Returns how many were syntactically valid. */
static size_t parse_uris(const char *v, size_t len, struct dmarc_uri *uris, size_t *n,
			 size_t *dropped)
{
	size_t valid = 0;
	while (len) {
		const char *comma = memchr(v, ',', len);
		size_t l = comma ? (size_t)(comma - v) : len;
		const char *u = v;
		size_t ul = l;
		trim(&u, &ul);
		struct dmarc_uri tmp;
		bool keep;
		if (parse_uri(u, ul, &tmp, &keep)) {
			valid++;
			if (keep && *n < DMARC_MAX_URIS)
				uris[(*n)++] = tmp;
			else
				(*dropped)++;
		}
		if (!comma)
			break;
		v = comma + 1;
		len -= l + 1;
	}
	return valid;
}

/* fo= (0 / 1 / d / s, colon-separated). False on anything else. */
static bool parse_fo(const char *v, size_t len, unsigned *fo)
{
	unsigned f = 0;
	while (len) {
		const char *colon = memchr(v, ':', len);
		size_t l = colon ? (size_t)(colon - v) : len;
		const char *t = v;
		size_t tl = l;
		trim(&t, &tl);
		if (ieq(t, tl, "0"))
			f |= DMARC_FO_0;
		else if (ieq(t, tl, "1"))
			f |= DMARC_FO_1;
		else if (ieq(t, tl, "d"))
			f |= DMARC_FO_D;
		else if (ieq(t, tl, "s"))
			f |= DMARC_FO_S;
		else
			return false;
		if (!colon)
			break;
		v = colon + 1;
		len -= l + 1;
	}
	if (!f)
		return false;
	*fo = f;
	return true;
}

/* rf=: whether the list names afrf. */
static bool rf_has_afrf(const char *v, size_t len)
{
	while (len) {
		const char *colon = memchr(v, ':', len);
		size_t l = colon ? (size_t)(colon - v) : len;
		const char *t = v;
		size_t tl = l;
		trim(&t, &tl);
		if (ieq(t, tl, "afrf"))
			return true;
		if (!colon)
			break;
		v = colon + 1;
		len -= l + 1;
	}
	return false;
}

enum tag {
	T_P, T_SP, T_NP, T_PCT, T_ADKIM, T_ASPF, T_RUA, T_RUF, T_RI, T_FO, T_RF, T_PSD, T_COUNT
};
static const char *const tag_names[T_COUNT] = {
	"p", "sp", "np", "pct", "adkim", "aspf", "rua", "ruf", "ri", "fo", "rf", "psd",
};

/* The start of the record: optional space, "v", "=", "DMARC1", then the end or ';'. Returns
 * the offset after it, or 0 when the record does not start so. */
static size_t version_end(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && is_wsp(s[i]))
		i++;
	if (i >= len || s[i] != 'v')
		return 0;
	i++;
	while (i < len && is_wsp(s[i]))
		i++;
	if (i >= len || s[i] != '=')
		return 0;
	i++;
	while (i < len && is_wsp(s[i]))
		i++;
	/* 6.4: %x44 %x4d %x41 %x52 %x43 %x31, upper case as written */
	if (len - i < 6 || memcmp(s + i, "DMARC1", 6) != 0)
		return 0;
	i += 6;
	while (i < len && is_wsp(s[i]))
		i++;
	if (i < len && s[i] != ';')
		return 0;
	return i;
}

enum dmarc_record_rc dmarc_record_parse(const char *txt, size_t len, struct dmarc_record *r,
					const char **why)
{
	memset(r, 0, sizeof *r);
	r->pct = 100;
	r->ri = 86400;
	r->fo = DMARC_FO_0;
	r->rf_afrf = true;
	*why = NULL;
	size_t pos = version_end(txt, len);
	if (pos == 0) {
		*why = "the record does not start with v=DMARC1";
		return DMARC_RECORD_NOT_DMARC;
	}
	if (len > DMARC_MAX_RECORD) {
		*why = "the DMARC record is longer than 4096 bytes";
		return DMARC_RECORD_INVALID;
	}
	bool seen[T_COUNT] = { false };
	bool p_bad = false, sp_bad = false;
	size_t rua_valid = 0;
	while (pos < len) {
		pos++; /* the ';' */
		const char *semi = memchr(txt + pos, ';', len - pos);
		size_t end = semi ? (size_t)(semi - txt) : len;
		const char *spec = txt + pos;
		size_t slen = end - pos;
		pos = end;
		trim(&spec, &slen);
		if (slen == 0)
			continue; /* ";;" or a final ';' */
		const char *eq = memchr(spec, '=', slen);
		if (!eq) {
			r->ignored++;
			continue;
		}
		const char *name = spec, *v = eq + 1;
		size_t nlen = (size_t)(eq - spec), vlen = slen - nlen - 1;
		trim(&name, &nlen);
		trim(&v, &vlen);
		int t = -1;
		for (int i = 0; i < T_COUNT; i++)
			if (ieq(name, nlen, tag_names[i]))
				t = i;
		if (t < 0 || seen[t]) {
			/* unknown, or repeated: the first one counts */
			r->ignored++;
			continue;
		}
		seen[t] = true;
		uint64_t n;
		bool ok = true;
		switch ((enum tag)t) {
		case T_P:
			r->p = parse_policy(v, vlen);
			p_bad = r->p == DMARC_POLICY_UNSET;
			break;
		case T_SP:
			r->sp = parse_policy(v, vlen);
			sp_bad = r->sp == DMARC_POLICY_UNSET;
			break;
		case T_NP:
			r->np = parse_policy(v, vlen);
			ok = r->np != DMARC_POLICY_UNSET;
			break;
		case T_PCT:
			ok = parse_uint(v, vlen, 100, &n);
			if (ok)
				r->pct = (unsigned)n;
			break;
		case T_ADKIM:
		case T_ASPF: {
			enum dmarc_align a = DMARC_ALIGN_RELAXED;
			if (ieq(v, vlen, "s"))
				a = DMARC_ALIGN_STRICT;
			else
				ok = ieq(v, vlen, "r");
			if (ok)
				*(t == T_ADKIM ? &r->adkim : &r->aspf) = a;
			break;
		}
		case T_RUA:
			rua_valid = parse_uris(v, vlen, r->rua, &r->nrua, &r->rua_dropped);
			ok = rua_valid > 0;
			break;
		case T_RUF:
			ok = parse_uris(v, vlen, r->ruf, &r->nruf, &r->ruf_dropped) > 0;
			break;
		case T_RI:
			ok = parse_uint(v, vlen, UINT32_MAX, &n);
			if (ok)
				r->ri = (uint32_t)n;
			break;
		case T_FO:
			ok = parse_fo(v, vlen, &r->fo);
			break;
		case T_RF:
			r->rf_afrf = rf_has_afrf(v, vlen);
			break;
		case T_PSD:
			if (ieq(v, vlen, "y"))
				r->psd = DMARC_PSD_Y;
			else if (ieq(v, vlen, "n"))
				r->psd = DMARC_PSD_N;
			else if (ieq(v, vlen, "u"))
				r->psd = DMARC_PSD_U;
			else
				ok = false;
			break;
		case T_COUNT:
			break;
		}
		if (!ok)
			r->ignored++;
	}
	if (!seen[T_P] || p_bad || sp_bad) {
		if (rua_valid == 0) {
			*why = !seen[T_P] ? "the DMARC record has no p= policy (and no valid rua=)"
			       : p_bad    ? "the DMARC record's p= is not none, quarantine or reject"
					  : "the DMARC record's sp= is not none, quarantine or reject";
			return DMARC_RECORD_INVALID;
		}
		r->p = DMARC_POLICY_NONE;
		r->sp = DMARC_POLICY_UNSET;
		r->p_from_rua = true;
	}
	return DMARC_RECORD_OK;
}

enum dmarc_record_rc dmarc_record_pick(const char *const *txts, const size_t *lens, size_t n,
				       struct dmarc_record *r, const char **why)
{
	size_t found = 0, which = 0;
	for (size_t i = 0; i < n; i++)
		if (version_end(txts[i], lens[i])) {
			if (found++ == 0)
				which = i;
		}
	if (found == 0) {
		memset(r, 0, sizeof *r);
		*why = "no TXT record there starts with v=DMARC1";
		return DMARC_RECORD_NOT_DMARC;
	}
	if (found > 1) {
		memset(r, 0, sizeof *r);
		*why = "there is more than one DMARC record, which counts as none (RFC 7489 6.6.3)";
		return DMARC_RECORD_MULTIPLE;
	}
	return dmarc_record_parse(txts[which], lens[which], r, why);
}
