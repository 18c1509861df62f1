/* TLS with OpenSSL: server contexts (TLS 1.2 and newer), self-signed certificates for a
 * fresh install, and a one-line description of a connection for Received headers. */
#ifndef YUBIN_TLS_H
#define YUBIN_TLS_H
#include <openssl/ssl.h>
#include <stdbool.h>

#include "lib/buf.h"

/* Loads cert chain and key; NULL + a sentence in err when they are unusable. */
SSL_CTX *tls_server_ctx_new(const char *cert_path, const char *key_path, struct buf *err);
/* Writes a 2048-bit RSA key and a self-signed certificate (1 year) naming hostname. */
bool tls_write_self_signed(const char *hostname, const char *cert_path, const char *key_path,
			   struct buf *err);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" */
void tls_describe(SSL *ssl, struct buf *out);

#endif
