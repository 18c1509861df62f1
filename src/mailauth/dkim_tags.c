/* DKIM tag lists (RFC 6376 3.2): the DKIM-Signature value and the key record. Pure code over
 * bytes; every failure names what was wrong. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "mailauth/dkim.h"

static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One tag: name and value with the FWS around them removed; value offsets into the input. */
struct tag {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
	size_t value_start, value_end; /* value_end: up to the ';' (trailing FWS included) */
};

/* Steps through a tag list. Returns 1 with *t filled, 0 at the end, -1 on a syntax error. */
static int tag_next(const char *s, size_t len, size_t *pos, struct tag *t, const char **why)
{
	size_t i = *pos;
	while (i < len && is_fws(s[i]))
		i++;
	if (i >= len)
		return 0;
	size_t name_start = i;
	if (!isalpha((unsigned char)s[i])) {
		*why = "a tag name must start with a letter";
		return -1;
	}
	while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
		i++;
	t->name = s + name_start;
	t->name_len = i - name_start;
	while (i < len && is_fws(s[i]))
		i++;
	if (i >= len || s[i] != '=') {
		*why = "a tag has no '='";
		return -1;
	}
	i++;
	t->value_start = i;
	while (i < len && is_fws(s[i]))
		i++;
	size_t vstart = i;
	const char *semi = memchr(s + i, ';', len - i);
	size_t vend_all = semi ? (size_t)(semi - s) : len;
	size_t vend = vend_all;
	while (vend > vstart && is_fws(s[vend - 1]))
		vend--;
	for (size_t k = vstart; k < vend; k++) {
		unsigned char c = (unsigned char)s[k];
		/* tval is VCHAR (and 8-bit for UTF-8 in RFC 6376 errata), separated by FWS */
		if (c < 0x21 && !is_fws((char)c)) {
			*why = "a tag value holds a control character";
			return -1;
		}
		if (c == 0x7f) {
			*why = "a tag value holds a control character";
			return -1;
		}
	}
	if (vend - vstart > DKIM_MAX_TAG_VALUE) {
		*why = "a tag value is too long";
		return -1;
	}
	t->value = s + vstart;
	t->value_len = vend - vstart;
	t->value_end = vend_all;
	*pos = semi ? vend_all + 1 : len;
	return 1;
}

static bool tag_is(const struct tag *t, const char *name)
{
	return t->name_len == strlen(name) && memcmp(t->name, name, t->name_len) == 0;
}

/* Copies a value without any FWS in it (for d=, s=, i= which allow none, and a=, c=). */
static char *value_dup(const struct tag *t)
{
	return xstrndup(t->value, t->value_len);
}

/* d= and s= become a DNS name the caller looks up: letters, digits, '-', '_' and dots between
 * non-empty labels of at most 63 bytes (RFC 6376 3.5: sub-domain; '_' is common in selectors). */
static bool is_dns_name(const struct tag *t)
{
	size_t label = 0;
	for (size_t i = 0; i < t->value_len; i++) {
		char c = t->value[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)c) || c == '-' || c == '_') || ++label > 63)
			return false;
	}
	return label > 0;
}

static bool has_fws(const struct tag *t)
{
	for (size_t i = 0; i < t->value_len; i++)
		if (is_fws(t->value[i]))
			return true;
	return false;
}

/* The lenient decoder skips the folding whitespace RFC 6376 allows anywhere in b=, bh= and p=;
 * anything else it reports (a byte outside the alphabet, a stray '=', a lone final character)
 * makes the value invalid. */
bool dkim_base64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len)
{
	struct buf b = BUF_INIT;
	*out = NULL;
	*out_len = 0;
	if (!base64_decode_lenient(s, len, &b)) {
		buf_free(&b);
		return false;
	}
	if (b.len)
		*out = (unsigned char *)buf_steal(&b, out_len);
	buf_free(&b);
	return true;
}

static bool parse_uint(const struct tag *t, uint64_t max, uint64_t *out)
{
	/* RFC 6376: at most 76 digits allowed, but values past our range are treated as max
	 * (a t=/x= in the far future, an l= longer than any body). */
	if (t->value_len == 0)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < t->value_len; i++) {
		char c = t->value[i];
		if (c < '0' || c > '9')
			return false;
		if (v > (max - (uint64_t)(c - '0')) / 10)
			v = max;
		else
			v = v * 10 + (uint64_t)(c - '0');
	}
	*out = v;
	return true;
}

void dkim_signature_free(struct dkim_signature *sig)
{
	free(sig->b);
	free(sig->bh);
	free(sig->d);
	free(sig->s);
	free(sig->i);
	for (size_t k = 0; k < sig->h_count; k++)
		free(sig->h[k]);
	free(sig->h);
	memset(sig, 0, sizeof *sig);
}

/* h= : field names separated by ':' with FWS around them. */
static bool parse_h(const struct tag *t, struct dkim_signature *sig, const char **why)
{
	size_t cap = 0;
	size_t i = 0;
	for (;;) {
		while (i < t->value_len && is_fws(t->value[i]))
			i++;
		size_t start = i;
		while (i < t->value_len && t->value[i] != ':' && !is_fws(t->value[i])) {
			unsigned char c = (unsigned char)t->value[i];
			if (c < 0x21 || c > 0x7e) {
				*why = "h= holds a character not allowed in a field name";
				return false;
			}
			i++;
		}
		size_t end = i;
		while (i < t->value_len && is_fws(t->value[i]))
			i++;
		if (end == start) {
			*why = "h= has an empty field name";
			return false;
		}
		if (sig->h_count == DKIM_MAX_H) {
			*why = "h= names more than 256 header fields";
			return false;
		}
		if (sig->h_count == cap) {
			cap = cap ? cap * 2 : 8;
			sig->h = xrealloc(sig->h, cap * sizeof *sig->h);
		}
		sig->h[sig->h_count++] = xstrndup(t->value + start, end - start);
		if (i >= t->value_len)
			return true;
		if (t->value[i] != ':') {
			*why = "h= has a space inside a field name";
			return false;
		}
		i++;
	}
}

/* Is `sub` equal to `dom` or a subdomain of it (ASCII case-insensitive)? */
static bool domain_within(const char *sub, const char *dom)
{
	size_t ls = strlen(sub), ld = strlen(dom);
	if (ls < ld)
		return false;
	if (strcasecmp(sub + ls - ld, dom) != 0)
		return false;
	return ls == ld || sub[ls - ld - 1] == '.';
}

enum {
	SEEN_V = 1 << 0, SEEN_A = 1 << 1, SEEN_B = 1 << 2, SEEN_BH = 1 << 3, SEEN_C = 1 << 4,
	SEEN_D = 1 << 5, SEEN_H = 1 << 6, SEEN_I = 1 << 7, SEEN_L = 1 << 8, SEEN_Q = 1 << 9,
	SEEN_S = 1 << 10, SEEN_T = 1 << 11, SEEN_X = 1 << 12, SEEN_Z = 1 << 13,
};

static int sig_tag_bit(const struct tag *t)
{
	static const struct {
		const char *name;
		int bit;
	} tags[] = {
		{ "v", SEEN_V }, { "a", SEEN_A }, { "b", SEEN_B }, { "bh", SEEN_BH }, { "c", SEEN_C },
		{ "d", SEEN_D }, { "h", SEEN_H }, { "i", SEEN_I }, { "l", SEEN_L }, { "q", SEEN_Q },
		{ "s", SEEN_S }, { "t", SEEN_T }, { "x", SEEN_X }, { "z", SEEN_Z },
	};
	for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++)
		if (tag_is(t, tags[k].name))
			return tags[k].bit;
	return 0;
}

static bool parse_canon(const struct tag *t, struct dkim_signature *sig)
{
	const char *slash = memchr(t->value, '/', t->value_len);
	size_t hl = slash ? (size_t)(slash - t->value) : t->value_len;
	const char *b = slash ? slash + 1 : NULL;
	size_t bl = slash ? t->value_len - hl - 1 : 0;
	if (hl == 6 && memcmp(t->value, "simple", 6) == 0)
		sig->hcanon = DKIM_CANON_SIMPLE;
	else if (hl == 7 && memcmp(t->value, "relaxed", 7) == 0)
		sig->hcanon = DKIM_CANON_RELAXED;
	else
		return false;
	if (!b || (bl == 6 && memcmp(b, "simple", 6) == 0))
		sig->bcanon = DKIM_CANON_SIMPLE;
	else if (bl == 7 && memcmp(b, "relaxed", 7) == 0)
		sig->bcanon = DKIM_CANON_RELAXED;
	else
		return false;
	return true;
}

static bool sig_apply_tag(const struct tag *t, int bit, struct dkim_signature *sig,
			  const char **why)
{
	uint64_t n;
	switch (bit) {
	case SEEN_V:
		if (!(t->value_len == 1 && t->value[0] == '1')) {
			*why = "the signature is not version 1 (v=1)";
			return false;
		}
		return true;
	case SEEN_A:
		if (t->value_len == 10 && memcmp(t->value, "rsa-sha256", 10) == 0)
			sig->alg = DKIM_ALG_RSA_SHA256;
		else if (t->value_len == 8 && memcmp(t->value, "rsa-sha1", 8) == 0)
			sig->alg = DKIM_ALG_RSA_SHA1;
		else if (t->value_len == 14 && memcmp(t->value, "ed25519-sha256", 14) == 0)
			sig->alg = DKIM_ALG_ED25519_SHA256;
		else {
			*why = "unknown signing algorithm in a=";
			return false;
		}
		return true;
	case SEEN_B:
		sig->b_value_start = t->value_start;
		sig->b_value_end = t->value_end;
		if (!dkim_base64_decode(t->value, t->value_len, &sig->b, &sig->b_len) || !sig->b_len) {
			*why = "b= is not valid base64";
			return false;
		}
		return true;
	case SEEN_BH:
		if (!dkim_base64_decode(t->value, t->value_len, &sig->bh, &sig->bh_len) ||
		    !sig->bh_len) {
			*why = "bh= is not valid base64";
			return false;
		}
		return true;
	case SEEN_C:
		if (!parse_canon(t, sig)) {
			*why = "unknown canonicalization in c=";
			return false;
		}
		return true;
	case SEEN_D:
		if (t->value_len > 253 || !is_dns_name(t)) {
			*why = "d= is not a domain name";
			return false;
		}
		sig->d = value_dup(t);
		return true;
	case SEEN_S:
		if (t->value_len > 120 || !is_dns_name(t)) {
			*why = "s= is not a selector";
			return false;
		}
		sig->s = value_dup(t);
		return true;
	case SEEN_I: {
		const char *at = memchr(t->value, '@', t->value_len);
		if (!at || has_fws(t) || at + 1 == t->value + t->value_len) {
			*why = "i= is not an identity (local-part@domain)";
			return false;
		}
		sig->i = value_dup(t);
		return true;
	}
	case SEEN_H:
		return parse_h(t, sig, why);
	case SEEN_L:
		if (!parse_uint(t, UINT64_MAX, &n)) {
			*why = "l= is not a number";
			return false;
		}
		sig->has_l = true;
		sig->l = n;
		return true;
	case SEEN_T:
		if (!parse_uint(t, INT64_MAX, &n)) {
			*why = "t= is not a number";
			return false;
		}
		sig->has_t = true;
		sig->t = (int64_t)n;
		return true;
	case SEEN_X:
		if (!parse_uint(t, INT64_MAX, &n)) {
			*why = "x= is not a number";
			return false;
		}
		sig->has_x = true;
		sig->x = (int64_t)n;
		return true;
	case SEEN_Q: {
		/* colon-separated methods; dns/txt must be among them */
		bool ok = false;
		size_t i = 0;
		while (i < t->value_len) {
			size_t st = i;
			while (i < t->value_len && t->value[i] != ':')
				i++;
			size_t e = i, b0 = st;
			while (b0 < e && is_fws(t->value[b0]))
				b0++;
			while (e > b0 && is_fws(t->value[e - 1]))
				e--;
			if (e - b0 == 7 && strncasecmp(t->value + b0, "dns/txt", 7) == 0)
				ok = true;
			i++;
		}
		if (!ok) {
			*why = "q= does not offer dns/txt";
			return false;
		}
		return true;
	}
	default:
		return true; /* z= and unknown tags are ignored */
	}
}

bool dkim_signature_parse(const char *value, size_t len, struct dkim_signature *sig,
			  const char **why)
{
	memset(sig, 0, sizeof *sig);
	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	size_t pos = 0;
	int seen = 0, r;
	struct tag t;
	while ((r = tag_next(value, len, &pos, &t, why)) == 1) {
		int bit = sig_tag_bit(&t);
		if (bit & seen) {
			*why = "a tag appears twice in the signature";
			goto bad;
		}
		seen |= bit;
		if (!sig_apply_tag(&t, bit, sig, why))
			goto bad;
	}
	if (r < 0)
		goto bad;
	int required = SEEN_V | SEEN_A | SEEN_B | SEEN_BH | SEEN_D | SEEN_H | SEEN_S;
	if ((seen & required) != required) {
		*why = !(seen & SEEN_V)	  ? "the signature has no v= tag"
		       : !(seen & SEEN_A) ? "the signature has no a= tag"
		       : !(seen & SEEN_B) ? "the signature has no b= tag"
		       : !(seen & SEEN_BH) ? "the signature has no bh= tag"
		       : !(seen & SEEN_D) ? "the signature has no d= tag"
		       : !(seen & SEEN_H) ? "the signature has no h= tag"
					  : "the signature has no s= tag";
		goto bad;
	}
	bool from = false;
	for (size_t k = 0; k < sig->h_count; k++)
		if (strcasecmp(sig->h[k], "from") == 0)
			from = true;
	if (!from) {
		*why = "h= does not include From";
		goto bad;
	}
	if (sig->i) {
		const char *at = strrchr(sig->i, '@');
		if (!domain_within(at + 1, sig->d)) {
			*why = "the domain of i= is not d= or a subdomain of it";
			goto bad;
		}
	} else {
		size_t dl = strlen(sig->d);
		sig->i = xmalloc(dl + 2);
		sig->i[0] = '@';
		memcpy(sig->i + 1, sig->d, dl + 1);
	}
	if (sig->has_t && sig->has_x && sig->x < sig->t) {
		*why = "x= (expiry) is before t= (signing time)";
		goto bad;
	}
	size_t bh_want = sig->alg == DKIM_ALG_RSA_SHA1 ? 20 : 32;
	if (sig->bh_len != bh_want) {
		*why = "bh= has the wrong length for the hash in a=";
		goto bad;
	}
	return true;
bad:
	dkim_signature_free(sig);
	return false;
}

void dkim_key_free(struct dkim_key *key)
{
	free(key->p);
	free(key->g);
	memset(key, 0, sizeof *key);
}

/* Does a colon-separated list hold `word` (or "*" when star is allowed)? */
static bool list_has(const struct tag *t, const char *word, bool star)
{
	size_t wl = strlen(word), i = 0;
	while (i <= t->value_len) {
		size_t st = i;
		while (i < t->value_len && t->value[i] != ':')
			i++;
		size_t b0 = st, e = i;
		while (b0 < e && is_fws(t->value[b0]))
			b0++;
		while (e > b0 && is_fws(t->value[e - 1]))
			e--;
		if ((e - b0 == wl && strncasecmp(t->value + b0, word, wl) == 0) ||
		    (star && e - b0 == 1 && t->value[b0] == '*'))
			return true;
		i++;
	}
	return false;
}

bool dkim_key_parse(const char *txt, size_t len, struct dkim_key *key, const char **why)
{
	memset(key, 0, sizeof *key);
	key->type = DKIM_KEY_RSA;
	key->sha1_ok = key->sha256_ok = true;
	key->email_ok = true;
	size_t pos = 0;
	int r, n = 0;
	enum { K_V = 1, K_H = 2, K_K = 4, K_N = 8, K_P = 16, K_S = 32, K_T = 64, K_G = 128 };
	int seen = 0;
	struct tag t;
	while ((r = tag_next(txt, len, &pos, &t, why)) == 1) {
		n++;
		int bit = tag_is(&t, "v") ? K_V : tag_is(&t, "h") ? K_H : tag_is(&t, "k") ? K_K
			: tag_is(&t, "n") ? K_N : tag_is(&t, "p") ? K_P : tag_is(&t, "s") ? K_S
			: tag_is(&t, "t") ? K_T : tag_is(&t, "g") ? K_G : 0;
		if (bit & seen) {
			*why = "a tag appears twice in the key record";
			goto bad;
		}
		seen |= bit;
		switch (bit) {
		case K_V:
			if (n != 1 || !(t.value_len == 5 && memcmp(t.value, "DKIM1", 5) == 0)) {
				*why = "the key record's v= is not DKIM1 or not first";
				goto bad;
			}
			break;
		case K_H:
			key->sha1_ok = list_has(&t, "sha1", false);
			key->sha256_ok = list_has(&t, "sha256", false);
			break;
		case K_K:
			if (t.value_len == 3 && memcmp(t.value, "rsa", 3) == 0)
				key->type = DKIM_KEY_RSA;
			else if (t.value_len == 7 && memcmp(t.value, "ed25519", 7) == 0)
				key->type = DKIM_KEY_ED25519;
			else {
				*why = "the key record's k= names an unknown key type";
				goto bad;
			}
			break;
		case K_P:
			if (!dkim_base64_decode(t.value, t.value_len, &key->p, &key->p_len)) {
				*why = "the key record's p= is not valid base64";
				goto bad;
			}
			break;
		case K_S:
			key->email_ok = list_has(&t, "email", true);
			break;
		case K_T:
			key->testing = list_has(&t, "y", false);
			key->strict = list_has(&t, "s", false);
			break;
		case K_G:
			key->has_g = true;
			key->g = xstrndup(t.value, t.value_len);
			break;
		default:
			break;
		}
	}
	if (r < 0)
		goto bad;
	if (!(seen & K_P)) {
		*why = "the key record has no p= tag";
		goto bad;
	}
	return true;
bad:
	dkim_key_free(key);
	return false;
}
