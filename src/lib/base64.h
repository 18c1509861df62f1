/* Base64 (RFC 4648 section 4, the standard alphabet) over buffers: one strict decoder, one
 * lenient decoder and the encoders, for every caller in yubin. Pure code, no I/O.
 *
 * Which decoder a caller needs:
 * - SASL (RFC 4422, RFC 4954 AUTH, RFC 5802 SCRAM attributes, stored SCRAM secrets): the exact
 *   encoding and nothing else, so base64_decode().
 * - DKIM b=, bh= and p= (RFC 6376 3.5 and 3.6.1): folding whitespace may appear anywhere in the
 *   value and no other character may, so base64_decode_lenient() whose result must be true.
 *   (That also lets through padding inside the value, "Zg==Zg==", which RFC 6376's grammar
 *   does not; kept as the verifier always had it, and a wrong value fails the signature.)
 * - MIME bodies and "B" encoded-words (RFC 2045 6.8, RFC 2047 4.1): line breaks anywhere, and
 *   a best effort on broken input (SEARCH still finds words in it), so base64_decode_lenient()
 *   whose output is used even when it returns false.
 * (IMAP's modified UTF-7 mailbox names use another alphabet and no padding: imap/parse.c.) */
#ifndef YUBIN_BASE64_H
#define YUBIN_BASE64_H
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* The length of the encoding of len bytes (padding included, no line breaks, no NUL). */
size_t base64_encoded_len(size_t len);

/* Appends the encoding of data to out, on one line. */
void base64_encode(struct buf *out, const void *data, size_t len);

/* Appends the encoding of data to out as MIME lines (RFC 2045 6.8): 76 characters each (57
 * bytes of data), every line ended by CRLF, the last one too; nothing for empty data. */
void base64_encode_lines(struct buf *out, const void *data, size_t len);

/* Writes the encoding of data into out[0..outmax) with a NUL after it. false (and out is "")
 * when it does not fit. */
bool base64_encode_str(char *out, size_t outmax, const void *data, size_t len);

/* Strict: in must be a whole number of 4-character quanta of the alphabet, '=' padding only
 * in the last quantum (and only as its third and fourth or its fourth character), no
 * whitespace. Bits left over by the padding are not checked. false on any other input or when
 * the result does not fit in out[0..outmax); *outlen is the decoded length (set on success). */
bool base64_decode(const char *in, size_t len, unsigned char *out, size_t outmax, size_t *outlen);

/* Lenient: SP, TAB, CR and LF are skipped; '=' ends a quantum of two or three characters, and
 * characters after it start a new quantum (concatenated encodings exist); a final quantum
 * without padding is decoded as if padded. Appends what it decodes to out and returns false
 * when the input had anything else: a character outside the alphabet (skipped), a '=' that
 * ends no quantum, or a lone character at the end (dropped). */
bool base64_decode_lenient(const char *in, size_t len, struct buf *out);

#endif
