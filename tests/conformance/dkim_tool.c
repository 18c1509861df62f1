/* A small driver over src/mailauth/dkim for the interoperability test:
 *   dkim-tool sign --domain D --selector S --key FILE [--time T] < msg > signed
 *   dkim-tool verify [--time T] [--txt NAME=RECORD]... [--tempfail NAME] < msg
 * The key file is a PEM private key (RSA or Ed25519) or a base64 Ed25519 seed (RFC 8463 A.1).
 * verify prints one line per signature: result, d=, s=, a=, l=, then the reason; names with no
 * --txt get "no record". Exit status 0 unless the tool itself failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "lib/alloc.h"
#include "lib/buf.h"
#include "mailauth/dkim.h"

static void read_all(FILE *f, struct buf *b)
{
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(b, chunk, n);
}

static EVP_PKEY *load_private_key(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (!k) {
		rewind(f);
		struct buf b = BUF_INIT;
		read_all(f, &b);
		unsigned char *seed;
		size_t seed_len;
		if (dkim_base64_decode(b.data, b.len, &seed, &seed_len) && seed_len == 32)
			k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, seed_len);
		if (seed)
			free(seed);
		buf_free(&b);
	}
	fclose(f);
	return k;
}

static int usage(void)
{
	fprintf(stderr, "usage: dkim-tool sign --domain D --selector S --key FILE [--time T]\n"
			"       dkim-tool verify [--time T] [--txt NAME=RECORD]... [--tempfail NAME]...\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *domain = NULL, *selector = NULL, *keyfile = NULL;
	time_t now = time(NULL);
	const char **txt = xcalloc((size_t)argc, sizeof *txt);
	const char **tempfail = xcalloc((size_t)argc, sizeof *tempfail);
	size_t ntxt = 0, ntemp = 0;
	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			return usage();
		if (strcmp(argv[i], "--domain") == 0)
			domain = argv[++i];
		else if (strcmp(argv[i], "--selector") == 0)
			selector = argv[++i];
		else if (strcmp(argv[i], "--key") == 0)
			keyfile = argv[++i];
		else if (strcmp(argv[i], "--time") == 0)
			now = (time_t)strtoll(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--txt") == 0)
			txt[ntxt++] = argv[++i];
		else if (strcmp(argv[i], "--tempfail") == 0)
			tempfail[ntemp++] = argv[++i];
		else
			return usage();
	}
	struct buf msg = BUF_INIT;
	read_all(stdin, &msg);
	int rc = 0;
	if (strcmp(argv[1], "sign") == 0) {
		if (!domain || !selector || !keyfile)
			return usage();
		EVP_PKEY *key = load_private_key(keyfile);
		if (!key) {
			fprintf(stderr, "dkim-tool: cannot read a private key from %s\n", keyfile);
			return 1;
		}
		struct buf out = BUF_INIT;
		const char *why = "";
		if (!dkim_sign(msg.data ? msg.data : "", msg.len, domain, selector, key, now, &out,
			       &why)) {
			fprintf(stderr, "dkim-tool: %s\n", why);
			rc = 1;
		} else {
			fwrite(out.data, 1, out.len, stdout);
			fwrite(msg.data, 1, msg.len, stdout);
		}
		buf_free(&out);
		EVP_PKEY_free(key);
	} else if (strcmp(argv[1], "verify") == 0) {
		struct dkim_verifier *v = dkim_verifier_new(msg.data ? msg.data : "", msg.len);
		for (size_t i = 0; i < dkim_verifier_key_count(v); i++) {
			const char *name = dkim_verifier_key_name(v, i);
			size_t nl = strlen(name);
			bool done = false;
			for (size_t k = 0; k < ntemp && !done; k++)
				if (strcmp(tempfail[k], name) == 0) {
					dkim_verifier_set_key(v, i, DKIM_DNS_TEMPFAIL, NULL, 0);
					done = true;
				}
			for (size_t k = 0; k < ntxt && !done; k++)
				if (strncmp(txt[k], name, nl) == 0 && txt[k][nl] == '=') {
					const char *rec = txt[k] + nl + 1;
					dkim_verifier_set_key(v, i, DKIM_DNS_FOUND, rec, strlen(rec));
					done = true;
				}
			if (!done)
				dkim_verifier_set_key(v, i, DKIM_DNS_NONE, NULL, 0);
		}
		dkim_verifier_run(v, now);
		for (size_t i = 0; i < dkim_verifier_count(v); i++) {
			const struct dkim_outcome *o = dkim_verifier_result(v, i);
			printf("%s d=%s s=%s a=%s l=%s bits=%u: %s\n", dkim_result_name(o->result),
			       o->domain, o->selector, o->alg, o->l_used ? "yes" : "no", o->key_bits,
			       o->reason);
		}
		if (dkim_verifier_unlisted(v))
			printf("unlisted %zu\n", dkim_verifier_unlisted(v));
		if (dkim_verifier_count(v) == 0)
			printf("none: no DKIM-Signature\n");
		dkim_verifier_free(&v);
	} else {
		rc = usage();
	}
	buf_free(&msg);
	free(txt);
	free(tempfail);
	return rc;
}
