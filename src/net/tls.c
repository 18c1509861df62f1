#include "net/tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TLS12_CIPHERS                                                                       \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                        \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                        \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* The self-signed certificate of a fresh install is a stopgap until a CA-issued one (ACME)
 * replaces it: one year, like the certificates browsers and mail apps accept. */
#define SELF_SIGNED_DAYS 365

static void openssl_errors(struct buf *err)
{
	unsigned long e;
	char text[256];
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, text, sizeof text);
		buf_printf(err, " (%s)", text);
	}
}

SSL_CTX *tls_server_ctx_new(const char *cert_path, const char *key_path, struct buf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		buf_printf(err, "cannot create a TLS context");
		openssl_errors(err);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Idle connections should not hold 34 KiB of TLS buffers each. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* TLS 1.2: only forward-secret (ECDHE) key exchange with AEAD ciphers, Mozilla's
	 * "intermediate" profile without its DHE suites. No static RSA, no CBC, no SHA-1 MACs.
	 * TLS 1.3 suites are all of this kind and keep OpenSSL's defaults. */
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		buf_printf(err, "cannot set the TLS 1.2 cipher list");
		openssl_errors(err);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		buf_printf(err, "cannot load the certificate %s", cert_path);
		openssl_errors(err);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		buf_printf(err, "cannot load the private key %s or it does not match the certificate",
			   key_path);
		openssl_errors(err);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return false;
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return true;
}

bool tls_write_self_signed(const char *hostname, const char *cert_path, const char *key_path,
			   struct buf *err)
{
	bool ok = false;
	EVP_PKEY *key = EVP_RSA_gen(2048);
	X509 *cert = X509_new();
	FILE *f = NULL;
	if (!key || !cert)
		goto out;
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), (long)SELF_SIGNED_DAYS * 24 * 3600);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)hostname, -1,
				   -1, 0);
	X509_set_issuer_name(cert, name);
	struct buf san = BUF_INIT;
	buf_printf(&san, "DNS:%s", hostname);
	bool ext_ok = add_ext(cert, NID_subject_alt_name, san.data) &&
		      add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") &&
		      add_ext(cert, NID_ext_key_usage, "serverAuth");
	buf_free(&san);
	if (!ext_ok || !X509_sign(cert, key, EVP_sha256()))
		goto out;
	/* The key file is created private (0600) before any byte is written. */
	int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		buf_printf(err, "cannot write %s", key_path);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	fclose(f);
	f = fopen(cert_path, "w");
	if (!f || !PEM_write_X509(f, cert)) {
		buf_printf(err, "cannot write %s", cert_path);
		goto out;
	}
	ok = true;
out:
	if (f)
		fclose(f);
	if (!ok && !err->len) {
		buf_printf(err, "cannot create a self-signed certificate");
		openssl_errors(err);
	}
	X509_free(cert);
	EVP_PKEY_free(key);
	return ok;
}

void tls_describe(SSL *ssl, struct buf *out)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int alg_bits = 0;
	int bits = c ? SSL_CIPHER_get_bits(c, &alg_bits) : 0;
	buf_printf(out, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
		   c ? SSL_CIPHER_get_name(c) : "unknown", bits, alg_bits);
}
