/* DKIM verification (RFC 6376 6.1, RFC 8463, RFC 8301) in two steps around the key lookups.
 * No I/O: the caller fetches the key records the verifier asks for. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/alloc.h"
#include "mailauth/dkim_internal.h"
#include "mime/mime.h"

struct sig_entry {
	struct dkim_outcome out;
	struct dkim_signature sig;
	bool to_check;   /* parsed, and waiting for dkim_verifier_run */
	size_t field;    /* index in fields */
	size_t key;      /* index in keys */
	/* The body hash, once computed (dkim_verifier_hash_bodies or when verified). */
	bool bh_done;
	unsigned bh_len;
	uint64_t canon_len;
	unsigned char bh[EVP_MAX_MD_SIZE];
};

struct key_entry {
	char *name;
	enum dkim_dns status;
	bool answered;
	char *txt;
	size_t len;
};

struct dkim_verifier {
	const char *msg;
	size_t len;
	struct dkim_field *fields;
	size_t nfields;
	bool all_fields;
	struct sig_entry *sigs;
	size_t nsigs, unlisted;
	struct key_entry *keys;
	size_t nkeys;
};

const char *dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_PASS: return "pass";
	case DKIM_FAIL: return "fail";
	case DKIM_NEUTRAL: return "neutral";
	case DKIM_POLICY: return "policy";
	case DKIM_TEMPERROR: return "temperror";
	case DKIM_PERMERROR: return "permerror";
	case DKIM_NOT_CHECKED: return "none";
	}
	return "?";
}

const char *dkim_alg_name(enum dkim_alg a)
{
	switch (a) {
	case DKIM_ALG_RSA_SHA256: return "rsa-sha256";
	case DKIM_ALG_RSA_SHA1: return "rsa-sha1";
	case DKIM_ALG_ED25519_SHA256: return "ed25519-sha256";
	}
	return "?";
}

static void set_result(struct sig_entry *e, enum dkim_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_result(struct sig_entry *e, enum dkim_result r, const char *fmt, ...)
{
	e->out.result = r;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->out.reason, sizeof e->out.reason, fmt, ap);
	va_end(ap);
	e->to_check = false;
}

/* Copies a d= or s= for reporting, replacing anything unprintable (they end up in logs). */
static void copy_printable(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[i] = '\0';
}

static size_t key_index(struct dkim_verifier *v, const char *s, const char *d)
{
	struct buf name = BUF_INIT;
	buf_printf(&name, "%s._domainkey.%s", s, d);
	for (size_t i = 0; i < name.len; i++)
		name.data[i] = (char)tolower((unsigned char)name.data[i]);
	for (size_t i = 0; i < v->nkeys; i++) {
		if (strcmp(v->keys[i].name, name.data) == 0) {
			buf_free(&name);
			return i;
		}
	}
	v->keys = xrealloc(v->keys, (v->nkeys + 1) * sizeof *v->keys);
	v->keys[v->nkeys] = (struct key_entry){ .name = buf_steal(&name, NULL) };
	return v->nkeys++;
}

struct dkim_verifier *dkim_verifier_new(const char *msg, size_t len)
{
	struct dkim_verifier *v = xcalloc(1, sizeof *v);
	v->msg = msg;
	v->len = len;
	v->all_fields = dkim_fields_collect(msg, len, &v->fields, &v->nfields);
	size_t seen = 0;
	for (size_t i = 0; i < v->nfields; i++) {
		const struct dkim_field *f = &v->fields[i];
		if (f->name_len != 14 || strncasecmp(f->name, "DKIM-Signature", 14) != 0)
			continue;
		if (seen++ >= DKIM_MAX_REPORTED) {
			v->unlisted++;
			continue;
		}
		v->sigs = xrealloc(v->sigs, (v->nsigs + 1) * sizeof *v->sigs);
		struct sig_entry *e = &v->sigs[v->nsigs++];
		memset(e, 0, sizeof *e);
		e->field = i;
		e->out.alg = "";
		if (v->nsigs > DKIM_MAX_SIGNATURES) {
			set_result(e, DKIM_NOT_CHECKED,
				   "not checked: only the first %d signatures of a message are",
				   DKIM_MAX_SIGNATURES);
			continue;
		}
		const char *why = "";
		if (!dkim_signature_parse(msg + f->value_offset, f->value_len, &e->sig, &why)) {
			set_result(e, DKIM_PERMERROR, "malformed signature: %s", why);
			continue;
		}
		copy_printable(e->out.domain, sizeof e->out.domain, e->sig.d);
		copy_printable(e->out.selector, sizeof e->out.selector, e->sig.s);
		e->out.alg = dkim_alg_name(e->sig.alg);
		e->out.l_used = e->sig.has_l;
		e->out.l = e->sig.l;
		if (e->sig.alg == DKIM_ALG_RSA_SHA1) {
			/* RFC 8301 3.1: not to be used for verifying; no key lookup either. */
			set_result(e, DKIM_POLICY, "signed with RSA-SHA1, which RFC 8301 no longer accepts");
			continue;
		}
		e->to_check = true;
		e->key = key_index(v, e->sig.s, e->sig.d);
	}
	if (!v->all_fields) {
		for (size_t i = 0; i < v->nsigs; i++)
			if (v->sigs[i].to_check)
				set_result(&v->sigs[i], DKIM_PERMERROR,
					   "the message has more than %d header fields; not checked",
					   DKIM_MAX_FIELDS);
	}
	return v;
}

size_t dkim_verifier_key_count(const struct dkim_verifier *v)
{
	return v->nkeys;
}

const char *dkim_verifier_key_name(const struct dkim_verifier *v, size_t i)
{
	return i < v->nkeys ? v->keys[i].name : NULL;
}

void dkim_verifier_set_key(struct dkim_verifier *v, size_t i, enum dkim_dns status,
			   const char *txt, size_t len)
{
	if (i >= v->nkeys)
		return;
	struct key_entry *k = &v->keys[i];
	free(k->txt);
	k->txt = NULL;
	k->len = 0;
	k->status = status;
	k->answered = true;
	if (status == DKIM_DNS_FOUND) {
		k->txt = xstrndup(txt ? txt : "", txt ? len : 0);
		k->len = txt ? len : 0;
	}
}

/* RFC 4871 g=: the local part of i= must match, with at most one '*' standing for any text. */
static bool granularity_ok(const char *g, const char *i)
{
	if (strcmp(g, "*") == 0)
		return true;
	const char *at = strrchr(i, '@');
	size_t ll = at ? (size_t)(at - i) : 0;
	const char *star = strchr(g, '*');
	if (!star)
		return strlen(g) == ll && strncmp(g, i, ll) == 0;
	size_t pre = (size_t)(star - g), post = strlen(star + 1);
	if (pre + post > ll)
		return false;
	return strncmp(g, i, pre) == 0 && strncmp(star + 1, i + ll - post, post) == 0;
}

static EVP_PKEY *decode_key(const struct dkim_key *key)
{
	if (key->type == DKIM_KEY_ED25519) {
		if (key->p_len != 32)
			return NULL;
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key->p, key->p_len);
	}
	if (key->p_len > 8192)
		return NULL;
	const unsigned char *p = key->p;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)key->p_len);
	if (pk && (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || p != key->p + key->p_len)) {
		EVP_PKEY_free(pk);
		return NULL;
	}
	if (!pk) {
		/* RFC 6376 3.6.1 says RSAPublicKey; nearly everyone publishes SubjectPublicKeyInfo. */
		p = key->p;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)key->p_len);
	}
	return pk;
}

/* Decoded keys by their bytes: OpenSSL 3's decoder costs more than the signature check itself
 * (a tenth of a small message's whole cost), and the same few keys sign most mail. Shared by
 * the loop and the worker thread; an EVP_PKEY is not changed after decoding, so holders share
 * it by reference. */
#define KEY_CACHE_SIZE 64
static struct {
	enum dkim_keytype type;
	unsigned char *p;
	size_t p_len;
	EVP_PKEY *pk;
} key_cache[KEY_CACHE_SIZE];
static size_t key_cache_next;
static pthread_mutex_t key_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static EVP_PKEY *load_key(const struct dkim_key *key)
{
	EVP_PKEY *pk = NULL;
	pthread_mutex_lock(&key_cache_lock);
	for (size_t i = 0; i < KEY_CACHE_SIZE && !pk; i++)
		if (key_cache[i].pk && key_cache[i].type == key->type &&
		    key_cache[i].p_len == key->p_len && memcmp(key_cache[i].p, key->p, key->p_len) == 0 &&
		    EVP_PKEY_up_ref(key_cache[i].pk))
			pk = key_cache[i].pk;
	pthread_mutex_unlock(&key_cache_lock);
	if (pk)
		return pk;
	pk = decode_key(key);
	if (!pk || !EVP_PKEY_up_ref(pk))
		return pk;
	pthread_mutex_lock(&key_cache_lock);
	size_t slot = key_cache_next++ % KEY_CACHE_SIZE;
	EVP_PKEY_free(key_cache[slot].pk);
	free(key_cache[slot].p);
	key_cache[slot].type = key->type;
	key_cache[slot].p = xmalloc(key->p_len);
	memcpy(key_cache[slot].p, key->p, key->p_len);
	key_cache[slot].p_len = key->p_len;
	key_cache[slot].pk = pk; /* the cache's reference */
	pthread_mutex_unlock(&key_cache_lock);
	return pk;
}

static bool check_crypto(EVP_PKEY *pk, enum dkim_alg alg, const unsigned char *data, size_t len,
			 const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		abort();
	bool ok;
	if (alg == DKIM_ALG_ED25519_SHA256) {
		/* RFC 8463 3: Ed25519 signs the SHA-256 hash of the header data. */
		unsigned char dig[32];
		EVP_Digest(data, len, dig, NULL, EVP_sha256(), NULL);
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(ctx, sig, sig_len, dig, sizeof dig) == 1;
	} else {
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1 &&
		     EVP_DigestVerify(ctx, sig, sig_len, data, len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* The body hash e's signature asks for; another signature with the same body canonicalization
 * and l= has the same one (a relaxed RSA and Ed25519 pair is hashed once). */
static void body_hash(struct dkim_verifier *v, struct sig_entry *e)
{
	if (e->bh_done)
		return;
	const struct dkim_signature *sig = &e->sig;
	for (size_t i = 0; i < v->nsigs; i++) {
		const struct sig_entry *o = &v->sigs[i];
		if (o->bh_done && o->sig.bcanon == sig->bcanon && o->sig.has_l == sig->has_l &&
		    (!sig->has_l || o->sig.l == sig->l)) {
			memcpy(e->bh, o->bh, o->bh_len);
			e->bh_len = o->bh_len;
			e->canon_len = o->canon_len;
			e->bh_done = true;
			return;
		}
	}
	size_t hdr_len = mime_header_block_size(v->msg, v->len);
	e->bh_len = dkim_body_hash(sig->bcanon, EVP_sha256(), v->msg + hdr_len, v->len - hdr_len,
				   sig->has_l ? sig->l : UINT64_MAX, e->bh, &e->canon_len);
	e->bh_done = true;
}

void dkim_verifier_hash_bodies(struct dkim_verifier *v)
{
	for (size_t i = 0; i < v->nsigs; i++)
		if (v->sigs[i].to_check)
			body_hash(v, &v->sigs[i]);
}

static void verify_one(struct dkim_verifier *v, struct sig_entry *e, bool *used, time_t now)
{
	const struct dkim_signature *sig = &e->sig;
	if (sig->has_x && sig->x < (int64_t)now) {
		time_t x = (time_t)sig->x;
		struct tm tm;
		char when[40] = "?";
		if (gmtime_r(&x, &tm))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
		set_result(e, DKIM_FAIL, "signature expired on %s", when);
		return;
	}
	if (sig->has_t && sig->t > (int64_t)now + 86400) {
		set_result(e, DKIM_PERMERROR, "signature is dated more than a day in the future (t=)");
		return;
	}
	const struct key_entry *k = &v->keys[e->key];
	if (!k->answered || k->status == DKIM_DNS_TEMPFAIL) {
		set_result(e, DKIM_TEMPERROR, "key lookup for %s failed for now", k->name);
		return;
	}
	if (k->status == DKIM_DNS_NONE) {
		set_result(e, DKIM_PERMERROR, "no key published at %s", k->name);
		return;
	}
	struct dkim_key key;
	const char *why = "";
	if (!dkim_key_parse(k->txt, k->len, &key, &why)) {
		set_result(e, DKIM_PERMERROR, "key record at %s is unusable: %s", k->name, why);
		return;
	}
	e->out.testing = key.testing;
	EVP_PKEY *pk = NULL;
	struct buf data = BUF_INIT;
	bool want_ed = sig->alg == DKIM_ALG_ED25519_SHA256;
	if (key.p_len == 0) {
		set_result(e, DKIM_PERMERROR, "key revoked (empty p= at %s)", k->name);
		goto out;
	}
	if (!key.sha256_ok) {
		set_result(e, DKIM_PERMERROR, "key does not allow SHA-256 (h= in the key record)");
		goto out;
	}
	if (want_ed != (key.type == DKIM_KEY_ED25519)) {
		set_result(e, DKIM_PERMERROR, "key type (k=%s) does not match a=%s",
			   key.type == DKIM_KEY_ED25519 ? "ed25519" : "rsa", e->out.alg);
		goto out;
	}
	if (!key.email_ok) {
		set_result(e, DKIM_PERMERROR, "key is not for email (s= in the key record)");
		goto out;
	}
	const char *idom = strrchr(sig->i, '@') + 1;
	if (key.strict && strcasecmp(idom, sig->d) != 0) {
		set_result(e, DKIM_PERMERROR, "key forbids subdomains in i= (t=s) but i= is %s",
			   "a subdomain of d=");
		goto out;
	}
	if (key.has_g && !granularity_ok(key.g, sig->i)) {
		set_result(e, DKIM_PERMERROR, "key granularity g= does not match the local part of i=");
		goto out;
	}
	pk = load_key(&key);
	if (!pk) {
		set_result(e, DKIM_PERMERROR, "key p= is not a valid %s public key",
			   want_ed ? "Ed25519" : "RSA");
		goto out;
	}
	e->out.key_bits = (unsigned)EVP_PKEY_get_bits(pk);
	if (!want_ed && e->out.key_bits < 1024) {
		set_result(e, DKIM_POLICY, "key is %u bits; RFC 8301 requires at least 1024",
			   e->out.key_bits);
		goto out;
	}
	/* Body */
	body_hash(v, e);
	e->out.body_len = e->canon_len;
	if (sig->has_l && sig->l > e->canon_len) {
		set_result(e, DKIM_FAIL, "l=%llu is longer than the body (%llu bytes)",
			   (unsigned long long)sig->l, (unsigned long long)e->canon_len);
		goto out;
	}
	if (e->bh_len != sig->bh_len || memcmp(e->bh, sig->bh, e->bh_len) != 0) {
		set_result(e, DKIM_FAIL, "body hash did not match (the body was changed)");
		goto out;
	}
	/* Header: the fields h= names, then this signature with b= emptied, no final CRLF. */
	memset(used, 0, v->nfields * sizeof *used);
	used[e->field] = true;
	dkim_header_data(v->msg, v->fields, v->nfields, used, sig->h, sig->h_count, sig->hcanon,
			 &data);
	const struct dkim_field *f = &v->fields[e->field];
	struct buf self = BUF_INIT;
	buf_append(&self, v->msg + f->offset, f->value_offset - f->offset + sig->b_value_start);
	buf_append(&self, v->msg + f->value_offset + sig->b_value_end,
		   f->value_len - sig->b_value_end);
	dkim_canon_header(sig->hcanon, self.data, self.len, &data);
	buf_free(&self);
	data.len -= 2;
	if (!check_crypto(pk, sig->alg, (const unsigned char *)data.data, data.len, sig->b,
			  sig->b_len)) {
		set_result(e, DKIM_FAIL,
			   "signature did not verify (a signed header field was changed, or the key "
			   "does not match)");
		goto out;
	}
	set_result(e, DKIM_PASS, "%s", sig->has_l ? "signature verified; l= leaves text after "
						     "the signed body length unsigned"
						   : "signature verified");
out:
	if (key.testing && e->out.result != DKIM_PASS) {
		size_t n = strlen(e->out.reason);
		snprintf(e->out.reason + n, sizeof e->out.reason - n,
			 " (the key is in testing mode, t=y)");
	} else if (key.testing) {
		snprintf(e->out.reason, sizeof e->out.reason,
			 "signature verified, but the key is in testing mode (t=y)");
	}
	buf_free(&data);
	EVP_PKEY_free(pk);
	dkim_key_free(&key);
}

void dkim_verifier_run(struct dkim_verifier *v, time_t now)
{
	bool *used = xcalloc(v->nfields ? v->nfields : 1, sizeof *used);
	for (size_t i = 0; i < v->nsigs; i++)
		if (v->sigs[i].to_check)
			verify_one(v, &v->sigs[i], used, now);
	free(used);
}

size_t dkim_verifier_count(const struct dkim_verifier *v)
{
	return v->nsigs;
}

const struct dkim_outcome *dkim_verifier_result(const struct dkim_verifier *v, size_t i)
{
	return i < v->nsigs ? &v->sigs[i].out : NULL;
}

size_t dkim_verifier_unlisted(const struct dkim_verifier *v)
{
	return v->unlisted;
}

void dkim_verifier_free(struct dkim_verifier **vp)
{
	struct dkim_verifier *v = *vp;
	if (!v)
		return;
	for (size_t i = 0; i < v->nsigs; i++)
		dkim_signature_free(&v->sigs[i].sig);
	for (size_t i = 0; i < v->nkeys; i++) {
		free(v->keys[i].name);
		free(v->keys[i].txt);
	}
	free(v->sigs);
	free(v->keys);
	free(v->fields);
	free(v);
	*vp = NULL;
}
