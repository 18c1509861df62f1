/* DKIM signing keys on disk and in memory (see dkim_keys.h for the layout). */
#include "mailauth/dkim_keys.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lib/alloc.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_internal.h"
#include "mime/mime.h"

#define SIGNING_FILE "signing"
#define RETIRED_DIR "retired"
/* Keys one domain signs with: the signing file may name more, the rest are ignored. */
#define MAX_SIGNING 4

bool dkim_domain_name_ok(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-' || strstr(d, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)d[i]) || isdigit((unsigned char)d[i]) || d[i] == '-' ||
		      d[i] == '.'))
			return false;
	return true;
}

bool dkim_selector_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= DKIM_SELECTOR_MAX || s[0] == '-' || s[0] == '.' || strstr(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return false;
	return true;
}

static void domain_dir(struct buf *p, const char *data_dir, const char *domain)
{
	buf_reset(p);
	buf_printf(p, "%s/dkim/%s", data_dir, domain);
}

static bool mkdir_private(const char *path, struct buf *err)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return true;
	buf_printf(err, "cannot create %s: %s", path, strerror(errno));
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void dkim_strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Names in dir ending in suffix (suffix removed), sorted. */
static char **list_dir(const char *dir, const char *suffix, bool dirs, size_t *n)
{
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	char **v = NULL;
	size_t cap = 0, sl = strlen(suffix);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.' || l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
			continue;
		if (dirs && e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[(*n)++] = xstrndup(e->d_name, l - sl);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof *v, cmp_str);
	return v;
}

char **dkim_keys_selectors(const char *data_dir, const char *domain, size_t *n)
{
	struct buf p = BUF_INIT;
	domain_dir(&p, data_dir, domain);
	char **v = list_dir(p.data, ".key", false, n);
	buf_free(&p);
	return v;
}

char **dkim_keys_domains(const char *data_dir, size_t *n)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/dkim", data_dir);
	char **v = list_dir(p.data, "", true, n);
	/* list_dir with an empty suffix keeps every name; keep only usable domain names */
	size_t k = 0;
	for (size_t i = 0; i < *n; i++) {
		if (dkim_domain_name_ok(v[i]))
			v[k++] = v[i];
		else
			free(v[i]);
	}
	*n = k;
	buf_free(&p);
	return v;
}

char **dkim_keys_signing(const char *data_dir, const char *domain, size_t *n)
{
	*n = 0;
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/dkim/%s/" SIGNING_FILE, data_dir, domain);
	FILE *f = fopen(p.data, "r");
	buf_free(&p);
	if (!f)
		return NULL;
	char **v = NULL;
	char line[256];
	while (fgets(line, sizeof line, f) && *n < MAX_SIGNING * 4) {
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		s[strcspn(s, " \t\r\n#")] = '\0';
		if (!*s)
			continue;
		v = xrealloc(v, (*n + 1) * sizeof *v);
		v[(*n)++] = xstrdup(s);
	}
	fclose(f);
	return v;
}

static bool key_exists(const char *data_dir, const char *domain, const char *sel)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/dkim/%s/%s.key", data_dir, domain, sel);
	bool ok = access(p.data, F_OK) == 0;
	buf_free(&p);
	return ok;
}

/* Writes path atomically (temporary file, fsync, rename) with mode 0600. */
static bool write_private(const char *path, const char *data, size_t len, struct buf *err)
{
	struct buf tmp = BUF_INIT;
	buf_printf(&tmp, "%s.tmp", path);
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (ok && rename(tmp.data, path) != 0)
		ok = false;
	if (!ok) {
		buf_printf(err, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp.data);
	}
	buf_free(&tmp);
	return ok;
}

bool dkim_keys_set_signing(const char *data_dir, const char *domain, char *const *sel, size_t n,
			   struct buf *err)
{
	struct buf p = BUF_INIT, text = BUF_INIT;
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		if (!dkim_selector_ok(sel[i]) || !key_exists(data_dir, domain, sel[i])) {
			buf_printf(err, "%s has no key with the selector \"%s\" (see: yubin dkim list "
				   "%s)", domain, sel[i], domain);
			ok = false;
		}
		for (size_t k = 0; k < i && ok; k++)
			if (strcmp(sel[k], sel[i]) == 0) {
				buf_printf(err, "the selector \"%s\" is named twice", sel[i]);
				ok = false;
			}
	}
	if (ok && n > MAX_SIGNING) {
		buf_printf(err, "at most %d selectors can sign at once", MAX_SIGNING);
		ok = false;
	}
	if (ok) {
		buf_append_str(&text, "# Selectors that sign mail from this domain (yubin dkim use).\n");
		for (size_t i = 0; i < n; i++)
			buf_printf(&text, "%s\n", sel[i]);
		buf_printf(&p, "%s/dkim/%s/" SIGNING_FILE, data_dir, domain);
		ok = write_private(p.data, text.data, text.len, err);
	}
	buf_free(&p);
	buf_free(&text);
	return ok;
}

bool dkim_keys_retire(const char *data_dir, const char *domain, const char *selector,
		      struct buf *err)
{
	if (!dkim_selector_ok(selector) || !key_exists(data_dir, domain, selector)) {
		buf_printf(err, "%s has no key with the selector \"%s\"", domain, selector);
		return false;
	}
	size_t n;
	char **sig = dkim_keys_signing(data_dir, domain, &n);
	bool used = false;
	for (size_t i = 0; i < n; i++)
		used |= strcmp(sig[i], selector) == 0;
	dkim_strings_free(sig, n);
	if (used) {
		buf_printf(err, "%s still signs mail from %s; switch first with: yubin dkim use %s "
			   "SELECTOR...", selector, domain, domain);
		return false;
	}
	struct buf dir = BUF_INIT, from = BUF_INIT, to = BUF_INIT;
	buf_printf(&dir, "%s/dkim/%s/" RETIRED_DIR, data_dir, domain);
	buf_printf(&from, "%s/dkim/%s/%s.key", data_dir, domain, selector);
	buf_printf(&to, "%s/%s.key", dir.data, selector);
	bool ok = mkdir_private(dir.data, err);
	if (ok && rename(from.data, to.data) != 0) {
		buf_printf(err, "cannot move %s to %s: %s", from.data, to.data, strerror(errno));
		ok = false;
	}
	buf_free(&dir);
	buf_free(&from);
	buf_free(&to);
	return ok;
}

/* The next letter of the year: one past the highest used by any key, retired ones too, so a
 * selector is never used twice (a cached old record must never match a new key). */
static bool next_selector_base(const char *data_dir, const char *domain, int year, char *base,
			       size_t size)
{
	char prefix[8];
	snprintf(prefix, sizeof prefix, "y%04d", year % 10000);
	size_t pl = strlen(prefix);
	int highest = -1;
	struct buf p = BUF_INIT;
	for (int pass = 0; pass < 2; pass++) {
		domain_dir(&p, data_dir, domain);
		if (pass)
			buf_append_str(&p, "/" RETIRED_DIR);
		size_t n;
		char **v = list_dir(p.data, ".key", false, &n);
		for (size_t i = 0; i < n; i++)
			if (strncmp(v[i], prefix, pl) == 0 && islower((unsigned char)v[i][pl]) &&
			    v[i][pl + 1] == '-' && v[i][pl] - 'a' > highest)
				highest = v[i][pl] - 'a';
		dkim_strings_free(v, n);
	}
	buf_free(&p);
	if (highest >= 25)
		return false;
	snprintf(base, size, "%.5s%c", prefix, 'a' + highest + 1);
	return true;
}

static bool write_key(const char *path, EVP_PKEY *key, struct buf *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		buf_printf(err, "cannot create %s: %s", path, strerror(errno));
		return false;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		buf_printf(err, "cannot write %s: %s", path, strerror(errno));
		return false;
	}
	bool ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1 && fflush(f) == 0 &&
		  fsync(fd) == 0;
	if (fclose(f) != 0)
		ok = false;
	if (!ok) {
		unlink(path);
		buf_printf(err, "cannot write %s", path);
	}
	return ok;
}

bool dkim_keys_generate(const char *data_dir, const char *domain, time_t now,
			char sel_rsa[DKIM_SELECTOR_MAX], char sel_ed[DKIM_SELECTOR_MAX],
			struct buf *err)
{
	if (!dkim_domain_name_ok(domain)) {
		buf_printf(err, "\"%s\" cannot be used as a domain name for DKIM keys", domain);
		return false;
	}
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/dkim", data_dir);
	bool ok = mkdir_private(p.data, err);
	domain_dir(&p, data_dir, domain);
	ok = ok && mkdir_private(p.data, err);
	struct tm tm;
	gmtime_r(&now, &tm);
	char base[16];
	if (ok && !next_selector_base(data_dir, domain, tm.tm_year + 1900, base, sizeof base)) {
		buf_printf(err, "every selector of %d is used (y%da to y%dz); retire keys or wait "
			   "for the new year", tm.tm_year + 1900, tm.tm_year + 1900, tm.tm_year + 1900);
		ok = false;
	}
	EVP_PKEY *rsa = NULL, *ed = NULL;
	if (ok) {
		rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (!rsa || !ed) {
			buf_append_str(err, "OpenSSL could not make the keys");
			ok = false;
		}
	}
	if (ok) {
		snprintf(sel_rsa, DKIM_SELECTOR_MAX, "%s-rsa", base);
		snprintf(sel_ed, DKIM_SELECTOR_MAX, "%s-ed", base);
		buf_reset(&p);
		buf_printf(&p, "%s/dkim/%s/%s.key", data_dir, domain, sel_rsa);
		ok = write_key(p.data, rsa, err);
		if (ok) {
			struct buf q = BUF_INIT;
			buf_printf(&q, "%s/dkim/%s/%s.key", data_dir, domain, sel_ed);
			ok = write_key(q.data, ed, err);
			if (!ok)
				unlink(p.data);
			buf_free(&q);
		}
	}
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	buf_free(&p);
	return ok;
}

static EVP_PKEY *read_key(const char *data_dir, const char *domain, const char *selector,
			  struct buf *err)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/dkim/%s/%s.key", data_dir, domain, selector);
	FILE *f = fopen(p.data, "r");
	EVP_PKEY *key = NULL;
	if (!f) {
		buf_printf(err, "cannot open %s: %s", p.data, strerror(errno));
	} else {
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (!key)
			buf_printf(err, "%s is not a PEM private key", p.data);
	}
	if (key) {
		int type = EVP_PKEY_get_base_id(key);
		if (type == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) < 1024) {
			buf_printf(err, "%s is an RSA key shorter than 1024 bits (RFC 8301)", p.data);
			EVP_PKEY_free(key);
			key = NULL;
		} else if (type != EVP_PKEY_RSA && type != EVP_PKEY_ED25519) {
			buf_printf(err, "%s is neither an RSA nor an Ed25519 key", p.data);
			EVP_PKEY_free(key);
			key = NULL;
		}
	}
	buf_free(&p);
	return key;
}

bool dkim_keys_record(const char *data_dir, const char *domain, const char *selector,
		      struct buf *txt, const char **type, struct buf *err)
{
	EVP_PKEY *key = read_key(data_dir, domain, selector, err);
	if (!key)
		return false;
	unsigned char *der = NULL;
	size_t len = 0;
	bool ok;
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		*type = "ed25519";
		der = xmalloc(32);
		len = 32;
		ok = EVP_PKEY_get_raw_public_key(key, der, &len) == 1;
	} else {
		*type = "rsa";
		int n = i2d_PUBKEY(key, &der);
		ok = n > 0;
		len = ok ? (size_t)n : 0;
	}
	if (ok) {
		buf_printf(txt, "v=DKIM1; k=%s; p=", *type);
		base64_encode(txt, der, len);
	} else {
		buf_printf(err, "OpenSSL could not read the public half of %s's key %s", domain,
			   selector);
	}
	if (*type[0] == 'e')
		free(der);
	else
		OPENSSL_free(der);
	EVP_PKEY_free(key);
	return ok;
}

void dkim_record_strings(const char *txt, size_t len, const char *sep, struct buf *out)
{
	for (size_t i = 0; i < len || i == 0; i += 255) {
		size_t take = len - i < 255 ? len - i : 255;
		if (i)
			buf_append_str(out, sep);
		buf_append_char(out, '"');
		buf_append(out, txt + i, take);
		buf_append_char(out, '"');
		if (len == 0)
			break;
	}
}

/* ---- the keyring ---------------------------------------------------------------------------- */

struct ring_key {
	char *selector;
	EVP_PKEY *key;
};

struct ring_domain {
	char *domain;
	struct ring_key keys[MAX_SIGNING];
	size_t n; /* 0: the domain is not signed (its keys are broken) */
};

struct dkim_keyring {
	atomic_int refs;
	struct ring_domain *d;
	size_t n;
	char *fallback;
};

struct dkim_keyring *dkim_keyring_load(const char *data_dir, const char *fallback_domain)
{
	struct dkim_keyring *kr = xcalloc(1, sizeof *kr);
	atomic_init(&kr->refs, 1);
	kr->fallback = xstrdup(fallback_domain ? fallback_domain : "");
	for (char *s = kr->fallback; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	size_t nd;
	char **domains = dkim_keys_domains(data_dir, &nd);
	kr->d = xcalloc(nd ? nd : 1, sizeof *kr->d);
	for (size_t i = 0; i < nd; i++) {
		size_t ns;
		char **sel = dkim_keys_signing(data_dir, domains[i], &ns);
		struct ring_domain *rd = &kr->d[kr->n];
		rd->domain = xstrdup(domains[i]);
		bool broken = false;
		for (size_t k = 0; k < ns && rd->n < MAX_SIGNING; k++) {
			struct buf err = BUF_INIT;
			EVP_PKEY *key = dkim_selector_ok(sel[k])
				? read_key(data_dir, domains[i], sel[k], &err) : NULL;
			if (!key) {
				log_error("event=dkim-key-unusable domain=%s selector=%s error=%s "
					  "hint=\"mail from this domain goes out unsigned until the key "
					  "is fixed or another is chosen (yubin dkim use), then SIGHUP\"",
					  log_str(domains[i]), log_str(sel[k]),
					  log_qstr(err.len ? err.data : "bad selector name"));
				broken = true;
			} else {
				rd->keys[rd->n].selector = xstrdup(sel[k]);
				rd->keys[rd->n++].key = key;
			}
			buf_free(&err);
		}
		dkim_strings_free(sel, ns);
		if (broken) {
			for (size_t k = 0; k < rd->n; k++) {
				free(rd->keys[k].selector);
				EVP_PKEY_free(rd->keys[k].key);
			}
			rd->n = 0;
		}
		kr->n++;
	}
	dkim_strings_free(domains, nd);
	return kr;
}

size_t dkim_keyring_domains(const struct dkim_keyring *kr)
{
	size_t n = 0;
	for (size_t i = 0; i < kr->n; i++)
		n += kr->d[i].n > 0;
	return n;
}

void dkim_keyring_release(struct dkim_keyring *kr)
{
	if (!kr || atomic_fetch_sub(&kr->refs, 1) != 1)
		return;
	for (size_t i = 0; i < kr->n; i++) {
		for (size_t k = 0; k < kr->d[i].n; k++) {
			free(kr->d[i].keys[k].selector);
			EVP_PKEY_free(kr->d[i].keys[k].key);
		}
		free(kr->d[i].domain);
	}
	free(kr->d);
	free(kr->fallback);
	free(kr);
}

static const struct ring_domain *find_domain(const struct dkim_keyring *kr, const char *d)
{
	for (size_t i = 0; i < kr->n; i++)
		if (strcmp(kr->d[i].domain, d) == 0)
			return &kr->d[i];
	return NULL;
}

bool dkim_from_domain(const char *value, size_t len, char *out, size_t out_size)
{
	/* The address is inside the last <...> when there is one (a display name may hold '@'
	 * in quotes), else the first word with an '@'. */
	const char *lt = NULL, *end = value + len;
	bool quoted = false;
	for (const char *p = value; p < end; p++) {
		if (*p == '\\' && quoted && p + 1 < end)
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '<' && !quoted)
			lt = p;
		else if (*p == ',' && !quoted && lt)
			break;
	}
	const char *a = lt ? lt + 1 : value, *b = end;
	if (lt) {
		const char *gt = memchr(a, '>', (size_t)(end - a));
		if (!gt)
			return false;
		b = gt;
	} else {
		const char *comma = memchr(a, ',', (size_t)(end - a));
		if (comma)
			b = comma;
	}
	const char *at = NULL;
	for (const char *p = a; p < b; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return false;
	const char *ds = at + 1, *de = ds;
	while (de < b && (isalnum((unsigned char)*de) || *de == '-' || *de == '.'))
		de++;
	while (de > ds && de[-1] == '.')
		de--;
	size_t n = (size_t)(de - ds);
	if (n == 0 || n >= out_size)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)ds[i]);
	out[n] = '\0';
	return true;
}

bool dkim_keyring_sign(const struct dkim_keyring *kr, const char *msg, size_t len, time_t now,
		       struct buf *out, const char **domain, const char **why)
{
	*domain = "";
	size_t hdr = mime_header_block_size(msg, len);
	struct mime_field f;
	char from[256];
	const struct ring_domain *rd = NULL;
	if (mime_header_find(msg, hdr, "From", &f) &&
	    dkim_from_domain(f.value, f.value_len, from, sizeof from)) {
		/* The From domain, or a parent of it we have keys for (relaxed DMARC alignment:
		 * news.example.com signed by example.com still aligns). */
		for (const char *d = from; d && !rd; d = strchr(d, '.') ? strchr(d, '.') + 1 : NULL)
			rd = find_domain(kr, d);
	} else {
		*why = "the message has no From address";
		return false;
	}
	if (!rd)
		rd = find_domain(kr, kr->fallback);
	if (!rd || rd->n == 0) {
		*why = rd ? "the domain's keys could not be loaded (see event=dkim-key-unusable)"
			  : "no DKIM keys for the From domain nor for the first local domain";
		return false;
	}
	size_t before = out->len;
	for (size_t k = 0; k < rd->n; k++)
		if (!dkim_sign(msg, len, rd->domain, rd->keys[k].selector, rd->keys[k].key, now, out,
			       why)) {
			out->len = before;
			return false;
		}
	*domain = rd->domain;
	return true;
}

/* ---- the holder -------------------------------------------------------------------------- */

struct dkim_keyholder {
	pthread_mutex_t lock;
	struct dkim_keyring *kr;
};

struct dkim_keyholder *dkim_keyholder_new(struct dkim_keyring *kr)
{
	struct dkim_keyholder *h = xcalloc(1, sizeof *h);
	pthread_mutex_init(&h->lock, NULL);
	h->kr = kr;
	return h;
}

void dkim_keyholder_set(struct dkim_keyholder *h, struct dkim_keyring *kr)
{
	pthread_mutex_lock(&h->lock);
	struct dkim_keyring *old = h->kr;
	h->kr = kr;
	pthread_mutex_unlock(&h->lock);
	dkim_keyring_release(old);
}

struct dkim_keyring *dkim_keyholder_get(struct dkim_keyholder *h)
{
	pthread_mutex_lock(&h->lock);
	struct dkim_keyring *kr = h->kr;
	if (kr)
		atomic_fetch_add(&kr->refs, 1);
	pthread_mutex_unlock(&h->lock);
	return kr;
}

void dkim_keyholder_free(struct dkim_keyholder *h)
{
	if (!h)
		return;
	dkim_keyring_release(h->kr);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
