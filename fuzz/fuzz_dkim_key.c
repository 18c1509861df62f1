/* libFuzzer target: the DKIM key-record parser must never crash, must give a reason for every
 * refusal, and the public key it accepts must be loadable or refused cleanly by the verifier
 * (the record is used to check the RFC 8463 Ed25519 signature and a copy signed with RSA). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim.h"

static const char msg[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1518460054; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=;\r\n"
	" b=9/dsDChY0YMTtD5Eyw3wx7x22BlSJP7M5ECbJ7GWrR45nXlTCGb8l0YB\r\n"
	" o0wBLR++X5LqmsxXaOYLLJe46l10AQ==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1527915362; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=;\r\n"
	" b=icKcLSEZYXJ95flvWE8FT6hl5iqd8MC/LEKYH0QjsqYy6MO/4pgVNCZH\r\n"
	" l/RAXAuADxE/40Fg7uTlxwwD1hjN2Ple6J//cJfslBdDOq6zTVbne1dqtl\r\n"
	" NOat7iamJ1AfRqyG+ja7a2AZsrpUuJ7VA6O+0zRYPqpwMEkEFIzI9i/Xk=\r\n"
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_key key;
	const char *why = NULL;
	if (dkim_key_parse((const char *)data, size, &key, &why)) {
		if (key.p_len && !key.p)
			abort();
		dkim_key_free(&key);
	} else if (!why) {
		abort();
	}
	struct dkim_verifier *v = dkim_verifier_new(msg, sizeof msg - 1);
	for (size_t i = 0; i < dkim_verifier_key_count(v); i++)
		dkim_verifier_set_key(v, i, DKIM_DNS_FOUND, (const char *)data, size);
	dkim_verifier_run(v, 1700000000);
	for (size_t i = 0; i < dkim_verifier_count(v); i++)
		if (!dkim_verifier_result(v, i)->reason[0])
			abort();
	dkim_verifier_free(&v);
	return 0;
}
