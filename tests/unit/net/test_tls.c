/* TLS contexts (net/tls.c): a fresh install's self-signed certificate loads, and a handshake
 * in memory (a BIO pair, no sockets) gets the policy: TLS 1.2 only with ECDHE and AEAD,
 * nothing older than TLS 1.2. */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "net/tls.h"
#include "test.h"
#include "tmpdir.h"

#define HOST "mail.example.test"

/* Runs both sides until both finish or one fails. */
static bool handshake(SSL_CTX *server_ctx, SSL_CTX *client_ctx, SSL **server_out,
		      SSL **client_out)
{
	SSL *server = SSL_new(server_ctx), *client = SSL_new(client_ctx);
	BIO *sb, *cb;
	BIO_new_bio_pair(&sb, 0, &cb, 0);
	SSL_set_bio(server, sb, sb);
	SSL_set_bio(client, cb, cb);
	SSL_set_accept_state(server);
	SSL_set_connect_state(client);
	SSL_set_tlsext_host_name(client, HOST);
	bool done = false;
	for (int i = 0; i < 50 && !done; i++) {
		int c = SSL_do_handshake(client), s = SSL_do_handshake(server);
		if (c == 1 && s == 1) {
			done = true;
			break;
		}
		int ce = c == 1 ? SSL_ERROR_NONE : SSL_get_error(client, c);
		int se = s == 1 ? SSL_ERROR_NONE : SSL_get_error(server, s);
		bool c_waits = ce == SSL_ERROR_NONE || ce == SSL_ERROR_WANT_READ ||
			       ce == SSL_ERROR_WANT_WRITE;
		bool s_waits = se == SSL_ERROR_NONE || se == SSL_ERROR_WANT_READ ||
			       se == SSL_ERROR_WANT_WRITE;
		if (!c_waits || !s_waits)
			break;
	}
	ERR_clear_error();
	*server_out = server;
	*client_out = client;
	return done;
}

static SSL_CTX *client_ctx(int version, const char *ciphers)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* Level 0 so that the client offers what we want refused; refusing is the server's job. */
	SSL_CTX_set_security_level(ctx, 0);
	if (version) {
		SSL_CTX_set_min_proto_version(ctx, version);
		SSL_CTX_set_max_proto_version(ctx, version);
	}
	if (ciphers)
		SSL_CTX_set_cipher_list(ctx, ciphers);
	return ctx;
}

/* The outcome of one handshake: "" when refused, else tls_describe of the server's side. */
static void try_handshake(SSL_CTX *server_ctx, int version, const char *ciphers, char *out,
			  size_t outlen)
{
	SSL_CTX *cctx = client_ctx(version, ciphers);
	SSL *server, *client;
	out[0] = '\0';
	if (handshake(server_ctx, cctx, &server, &client)) {
		struct buf d = BUF_INIT;
		tls_describe(server, &d);
		snprintf(out, outlen, "%s", d.data ? d.data : "");
		buf_free(&d);
	}
	SSL_free(server);
	SSL_free(client);
	SSL_CTX_free(cctx);
}

TEST(tls_self_signed_certificate_loads_and_names_the_host)
{
	char dir[TEST_TMPDIR_SIZE], cert[128], key[128];
	if (!test_tmpdir_make(dir)) {
		CHECK(false);
		return;
	}
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	struct buf err = BUF_INIT;
	CHECK(tls_write_self_signed(HOST, cert, key, &err));
	struct stat st;
	CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
	SSL_CTX *ctx = tls_server_ctx_new(cert, key, &err);
	CHECK(ctx != NULL);
	if (!ctx) {
		printf("  %s\n", err.data ? err.data : "");
		buf_free(&err);
		test_tmpdir_remove(dir);
		return;
	}
	SSL_CTX *cctx = client_ctx(0, NULL);
	SSL *server, *client;
	CHECK(handshake(ctx, cctx, &server, &client));
	X509 *peer = SSL_get1_peer_certificate(client);
	CHECK(peer != NULL);
	if (peer) {
		CHECK_EQ_INT(X509_check_host(peer, HOST, 0, 0, NULL), 1);
		CHECK(X509_check_host(peer, "other.example.test", 0, 0, NULL) != 1);
		/* One year, as mail apps accept: valid now and in 364 days, not in 366. */
		time_t now = time(NULL), in364 = now + 364 * 86400, in366 = now + 366 * 86400;
		CHECK(X509_cmp_time(X509_get0_notBefore(peer), &now) < 0);
		CHECK(X509_cmp_time(X509_get0_notAfter(peer), &in364) > 0);
		CHECK(X509_cmp_time(X509_get0_notAfter(peer), &in366) < 0);
		X509_free(peer);
	}
	struct buf d = BUF_INIT;
	tls_describe(server, &d);
	CHECK(d.data && strncmp(d.data, "TLSv1.3 with cipher TLS_", 24) == 0);
	buf_free(&d);
	SSL_free(server);
	SSL_free(client);
	SSL_CTX_free(cctx);
	SSL_CTX_free(ctx);
	buf_free(&err);
	test_tmpdir_remove(dir);
}

TEST(tls_policy_tls12_ecdhe_aead_only)
{
	char dir[TEST_TMPDIR_SIZE], cert[128], key[128];
	if (!test_tmpdir_make(dir)) {
		CHECK(false);
		return;
	}
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	struct buf err = BUF_INIT;
	CHECK(tls_write_self_signed(HOST, cert, key, &err));
	SSL_CTX *ctx = tls_server_ctx_new(cert, key, &err);
	CHECK(ctx != NULL);
	if (!ctx) {
		buf_free(&err);
		test_tmpdir_remove(dir);
		return;
	}
	char got[256];
	try_handshake(ctx, TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256", got, sizeof got);
	CHECK_EQ_STR(got, "TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)");
	try_handshake(ctx, TLS1_2_VERSION, "ECDHE-RSA-CHACHA20-POLY1305", got, sizeof got);
	CHECK_EQ_STR(got, "TLSv1.2 with cipher ECDHE-RSA-CHACHA20-POLY1305 (256/256 bits)");
	/* No static RSA, no CBC, no SHA-1 MAC, even when that is all a client offers. */
	const char *weak[] = { "AES128-GCM-SHA256", "AES256-SHA256", "ECDHE-RSA-AES128-SHA",
			       "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-GCM-SHA256" };
	for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
		try_handshake(ctx, TLS1_2_VERSION, weak[i], got, sizeof got);
		if (got[0])
			printf("  accepted %s: %s\n", weak[i], got);
		CHECK_EQ_STR(got, "");
	}
	/* Nothing older than TLS 1.2. (No suite above works before TLS 1.2 anyway, so a
	 * handshake cannot show this one.) */
	CHECK_EQ_INT(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	SSL_CTX_free(ctx);
	buf_free(&err);
	test_tmpdir_remove(dir);
}

TEST(tls_context_refuses_missing_or_mismatched_files)
{
	char dir[TEST_TMPDIR_SIZE], cert[128], key[128], cert2[128], key2[128];
	if (!test_tmpdir_make(dir)) {
		CHECK(false);
		return;
	}
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	snprintf(cert2, sizeof cert2, "%s/cert2.pem", dir);
	snprintf(key2, sizeof key2, "%s/key2.pem", dir);
	struct buf err = BUF_INIT;
	CHECK(tls_server_ctx_new(cert, key, &err) == NULL);
	CHECK(err.data && strstr(err.data, "cannot load the certificate") != NULL);
	CHECK(tls_write_self_signed(HOST, cert, key, &err));
	CHECK(tls_write_self_signed(HOST, cert2, key2, &err));
	buf_reset(&err);
	CHECK(tls_server_ctx_new(cert, key2, &err) == NULL);
	CHECK(err.data && strstr(err.data, "does not match the certificate") != NULL);
	buf_free(&err);
	test_tmpdir_remove(dir);
}
