/* MIME for the IMAP server (and SEARCH): header fields, RFC 2047/2231 decoding, the part tree of
 * a stored message, ENVELOPE / BODY / BODYSTRUCTURE strings, FETCH BODY[section] ranges,
 * Content-Transfer-Encoding decoding and text for SEARCH, and a stored form of the part tree.
 *
 * Pure code over bytes: no I/O, no global state (iconv descriptors are opened per call). Every
 * function takes the raw message exactly as stored (CRLF line ends normally; bare LF tolerated)
 * and never writes to it. Output goes to a struct buf (appended, never reset), so callers can
 * build a response line in one buffer.
 *
 * Typical use by the IMAP session:
 *
 *   at delivery:  m = mime_message_parse(raw, len, NULL);
 *                 mime_message_serialize(m, &blob);   -> store blob with the message
 *                 mime_message_free(&m);
 *   FETCH:        m = mime_message_deserialize(blob, blob_len);    (or parse again)
 *                 mime_imap_envelope(m, 0, &out, 0);
 *                 mime_imap_bodystructure(m, 0, true, &out, 0);
 *                 mime_section_parse("1.2.HEADER.FIELDS (From To)", n, &sec);
 *                 mime_section_fetch(m, raw, len, &sec, &res);
 *   SEARCH:       mime_search_text(m, raw, len, MIME_SEARCH_BODY, &text);
 *                 mime_search_contains(text.data, text.len, key, key_len);
 *
 * Sizes and offsets are of the stored bytes. If the store ever keeps bare-LF messages (imports,
 * APPEND), it should pass them through mime_normalize_crlf() first, so that the sizes in
 * BODYSTRUCTURE match the bytes FETCH sends (IMAP requires CRLF). */
#ifndef YUBIN_MIME_MIME_H
#define YUBIN_MIME_MIME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* ---------------------------------------------------------------------------------------------
 * Limits. A hostile message must cost time linear in its size and bounded memory. When a limit
 * is reached the rest is kept as opaque body of the part being parsed (never an error). */

#define MIME_DEFAULT_MAX_DEPTH 50          /* multipart / message nesting */
#define MIME_DEFAULT_MAX_PARTS 5000        /* parts in one message, all levels */
#define MIME_DEFAULT_MAX_HEADER_FIELDS 1000 /* fields looked at per header block */
#define MIME_DEFAULT_MAX_FIELD_SIZE 65536  /* bytes of one field value interpreted */
#define MIME_BOUNDARY_MAX 200              /* RFC 2046 allows 70; longer is not a boundary */

struct mime_limits {
	unsigned max_depth;
	unsigned max_parts;
	unsigned max_header_fields; /* later fields are kept in the bytes but not interpreted */
	size_t max_field_size;      /* a longer value is truncated for interpretation */
};

/* Fills in the defaults above. */
void mime_limits_default(struct mime_limits *lim);

/* ---------------------------------------------------------------------------------------------
 * Header fields (RFC 5322 2.2). A header block is the bytes from the start of a message or part
 * up to and including the empty line (or the end of the data when there is none). */

struct mime_field {
	const char *name;  /* field name, without the colon or whitespace before it */
	size_t name_len;
	const char *value; /* raw value after the colon: folding and leading space kept, */
	size_t value_len;  /* the final line end dropped */
	size_t offset;     /* of the field in the block given to the iterator */
	size_t size;       /* of the whole field including its final line end */
};

struct mime_header_iter {
	const char *data;
	size_t len, pos;
	unsigned count, max_fields;
};

/* Size of the header block at the start of msg, including the empty line that ends it; len when
 * there is no empty line (the whole message is header). */
size_t mime_header_block_size(const char *msg, size_t len);

/* Iterates the fields of a header block (or of a whole message: iteration stops at the empty
 * line). max_fields 0 means no limit. Lines that are not fields (no colon, a continuation line at
 * the start) are skipped. Fields point into hdr. */
void mime_header_iter_init(struct mime_header_iter *it, const char *hdr, size_t len,
			   unsigned max_fields);
bool mime_header_next(struct mime_header_iter *it, struct mime_field *f);

/* Finds the first field with this name (ASCII case-insensitive). */
bool mime_header_find(const char *hdr, size_t len, const char *name, struct mime_field *f);

/* Appends the value unfolded (RFC 5322 2.2.3: CRLF before WSP removed; a lone CR or LF too), with
 * leading and trailing whitespace and NUL bytes removed. */
void mime_header_unfold(const char *value, size_t len, struct buf *out);

/* find + unfold: appends the first value of this field; false (nothing appended) if absent. */
bool mime_header_get(const char *hdr, size_t len, const char *name, struct buf *out);

/* Appends the value as UTF-8 text for display and search: unfolded, RFC 2047 encoded-words
 * decoded (B and Q, any charset iconv knows, ISO-2022-JP / Shift_JIS / CP932 / EUC-JP
 * included), whitespace between adjacent encoded-words dropped, raw 8-bit text taken as UTF-8
 * (invalid bytes become U+FFFD), raw ISO-2022-JP escapes decoded. Never fails. */
void mime_header_decode(const char *value, size_t len, struct buf *out);

/* ---------------------------------------------------------------------------------------------
 * Charsets. */

/* Appends in, converted from charset to UTF-8 (charset NULL or unknown: taken as UTF-8). The
 * output is always valid UTF-8; bytes that cannot be converted become U+FFFD. Returns false if
 * anything was replaced or the charset is not known. Japanese charsets map to their Microsoft
 * supersets (Shift_JIS -> CP932, EUC-JP -> eucJP-ms, ISO-2022-JP -> with NEC/IBM extensions),
 * because that is what Japanese mail really contains. */
bool mime_charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out);

/* Appends in with every invalid UTF-8 sequence replaced by U+FFFD; false if any was. */
bool mime_utf8_sanitize(const char *in, size_t len, struct buf *out);

/* ---------------------------------------------------------------------------------------------
 * The part tree. mime_message_parse() never fails: whatever the bytes, the result is a tree that
 * renders to a valid BODYSTRUCTURE. Strings are NUL-terminated, owned by the message, and stay
 * valid until mime_message_free(). Indexes (uint32_t) refer to m->parts; MIME_NONE is "none". */

#define MIME_NONE UINT32_MAX

enum mime_cte {
	MIME_CTE_7BIT,  /* also when the field is absent or not a valid token */
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_BASE64,
	MIME_CTE_QP,     /* quoted-printable */
	MIME_CTE_UNKNOWN /* x-uuencode and the like: BINARY answers [UNKNOWN-CTE] */
};

/* Parameters come as Dovecot shows them: plain ones first, in order, then the RFC 2231 ones
 * sorted by name, their sections joined when they run 0, 1, 2... (RFC 2231 asks IMAP servers to
 * join them, not to decode them) or kept apart as "name*N" when one is missing. */
struct mime_param {
	const char *name;  /* as written (case kept); "name*" when the value is in RFC 2231 form */
	const char *value; /* quotes removed; "charset'lang'%XX.." kept encoded (mime_part_param()
			    * decodes it) */
};

enum mime_env_field {
	MIME_ENV_DATE, MIME_ENV_SUBJECT, MIME_ENV_FROM, MIME_ENV_SENDER, MIME_ENV_REPLY_TO,
	MIME_ENV_TO, MIME_ENV_CC, MIME_ENV_BCC, MIME_ENV_IN_REPLY_TO, MIME_ENV_MESSAGE_ID,
	MIME_ENV_COUNT
};

enum {
	MIME_PART_MULTIPART = 1 << 0, /* multipart/x: children are its body parts */
	MIME_PART_MESSAGE = 1 << 1,   /* message/rfc822 or message/global: the one child (if any) is
				       * the encapsulated message */
	MIME_PART_ENVELOPE = 1 << 2,  /* this part is a message (the root, or the child of a
				       * MESSAGE part): an RFC 5322 header, env[] set */
	MIME_PART_TRUNCATED = 1 << 3, /* a limit was reached inside: the rest is opaque body */
	MIME_PART_TEXT = 1 << 4,      /* text/x: BODYSTRUCTURE carries a line count */
};

struct mime_part {
	/* Offsets from the start of the message. header is the part's header block including its
	 * empty line; body follows it directly (body_offset == header_offset + header_size). In a
	 * multipart, the line end before a boundary belongs to the boundary (RFC 2046 5.1.1). */
	size_t header_offset, header_size;
	size_t body_offset, body_size;
	size_t body_lines; /* LF characters in the body (what Dovecot reports) */

	unsigned flags;
	const char *type, *subtype; /* as written; "text" "plain" by default (message/rfc822 in a
				     * multipart/digest) */
	const struct mime_param *params; /* Content-Type parameters */
	size_t nparams;
	enum mime_cte cte;
	const char *encoding;    /* Content-Transfer-Encoding token as written, or NULL */
	const char *id;          /* Content-ID, unfolded, or NULL; likewise the others: */
	const char *description; /* Content-Description (raw, encoded-words left as they are) */
	const char *md5;         /* Content-MD5 */
	const char *disposition; /* Content-Disposition type ("attachment", "inline") */
	const struct mime_param *disp_params;
	size_t ndisp_params;
	const char *language;    /* Content-Language, raw list "en, fr" */
	const char *location;    /* Content-Location */

	/* MIME_PART_ENVELOPE parts: the unfolded values of Date, Subject, From, Sender, Reply-To,
	 * To, Cc, Bcc, In-Reply-To, Message-ID (first occurrence), NULL when absent. */
	const char *env[MIME_ENV_COUNT];

	uint32_t parent, first_child, next_sibling;
	uint32_t nchildren;
};

struct arena;

struct mime_message {
	struct mime_part *parts; /* parts[0] is the message itself; then depth-first order */
	uint32_t nparts;
	size_t size;             /* of the raw message */
	struct arena *arena;
};

/* Parses a message into its part tree. lim NULL: the defaults. Never returns NULL. */
struct mime_message *mime_message_parse(const char *msg, size_t len,
					const struct mime_limits *lim);
/* Frees the message and sets *m to NULL; NULL is fine. */
void mime_message_free(struct mime_message **m);

/* The value of a parameter (Content-Type, or Content-Disposition when disposition is true),
 * decoded to UTF-8: RFC 2231 charset and %XX, or RFC 2047 words in a quoted value (a common
 * misuse for file names). Name is matched without regard to case, and "filename" also finds
 * "filename*". False (nothing appended) if absent. */
bool mime_part_param(const struct mime_part *part, bool disposition, const char *name,
		     struct buf *out);

/* The charset parameter of a part, or NULL (the caller treats NULL on text/x as us-ascii). */
const char *mime_part_charset(const struct mime_part *part);

/* Maps a Content-Transfer-Encoding token (case-insensitive) to its enum. */
enum mime_cte mime_cte_from_name(const char *s, size_t len);

/* ---------------------------------------------------------------------------------------------
 * IMAP output (RFC 9051 7.5.2 / RFC 3501 7.4.2). */

enum {
	MIME_IMAP_UTF8 = 1 << 0, /* UTF8=ACCEPT is on: UTF-8 may go in quoted strings */
};

/* Appends a string as an IMAP quoted string, or as a literal {n}\r\n... when it holds CR, LF,
 * 8-bit bytes (unless MIME_IMAP_UTF8 and valid UTF-8) or is longer than 1000 bytes. NUL bytes are
 * dropped: IMAP allows them in neither form. */
void mime_imap_append_string(struct buf *out, const char *s, size_t len, unsigned flags);
/* Appends NIL for NULL, else the string as above. */
void mime_imap_append_nstring(struct buf *out, const char *s, unsigned flags);

/* Appends the ENVELOPE of a MIME_PART_ENVELOPE part (0: the message), parentheses included.
 * Address lists are parsed per RFC 5322 (groups, quoted and obsolete forms; a comment stands
 * for a missing display name); encoded-words are left as they are, as the RFC says. Sender and
 * Reply-To default to From when absent or empty. Another part gives an all-NIL envelope. */
void mime_imap_envelope(const struct mime_message *m, uint32_t part, struct buf *out,
			unsigned flags);

/* Appends BODYSTRUCTURE (extended: MD5, disposition, language, location) or BODY (not
 * extended) of a part (0: the message), parentheses included. */
void mime_imap_bodystructure(const struct mime_message *m, uint32_t part, bool extended,
			     struct buf *out, unsigned flags);

/* Appends one address list (From:, To:, ...) in ENVELOPE form, or NIL when it has no address. */
void mime_imap_address_list(const char *value, size_t len, struct buf *out, unsigned flags);

/* Calls fn for each mailbox of an address list (From:, To:, ...), with the same parser as
 * ENVELOPE (groups are entered, "<>" is skipped): its local part (quotes removed) and its
 * domain as written (a domain-literal keeps its brackets), either possibly empty. Returns
 * how many mailboxes there were. Linear in len. */
typedef void (*mime_address_fn)(void *ctx, const char *local, size_t local_len,
				const char *domain, size_t domain_len);
size_t mime_address_list_each(const char *value, size_t len, mime_address_fn fn, void *ctx);

/* ---------------------------------------------------------------------------------------------
 * FETCH BODY[section] (RFC 9051 6.4.5). Part numbers: a message's parts are the parts of its
 * body; a non-multipart message has only part 1, its body. A MESSAGE/RFC822 part's subparts are
 * those of the encapsulated message ("3.1"), and "3.HEADER" / "3.TEXT" are its header / text. */

#define MIME_SECTION_MAX_DEPTH 64   /* numbers in a part path */
#define MIME_SECTION_MAX_FIELDS 128 /* names in HEADER.FIELDS (...) */

enum mime_section_kind {
	MIME_SECTION_ALL,         /* BODY[] / BODY[1.2]: the whole message / part body */
	MIME_SECTION_HEADER,      /* HEADER */
	MIME_SECTION_FIELDS,      /* HEADER.FIELDS (list) */
	MIME_SECTION_FIELDS_NOT,  /* HEADER.FIELDS.NOT (list) */
	MIME_SECTION_TEXT,        /* TEXT */
	MIME_SECTION_MIME,        /* MIME: the part's own MIME header */
};

struct mime_section_field {
	const char *name; /* points into the text given to mime_section_parse() */
	size_t len;
};

struct mime_section {
	uint32_t path[MIME_SECTION_MAX_DEPTH]; /* part numbers, each >= 1 */
	size_t depth;                          /* 0: the message itself */
	enum mime_section_kind kind;
	struct mime_section_field fields[MIME_SECTION_MAX_FIELDS];
	size_t nfields;
};

/* Parses the text between [ and ] of BODY[...], e.g. "", "1.2", "3.HEADER",
 * "HEADER.FIELDS (From To)", "2.MIME" (case-insensitive keywords; field names may be quoted
 * strings). False on a syntax error (the session answers BAD). MIME needs a part number. */
bool mime_section_parse(const char *s, size_t len, struct mime_section *sec);

/* Finds the part a section path names (the whole message for depth 0); MIME_NONE if there is no
 * such part. For BINARY[path] this is the part whose cte to decode. */
uint32_t mime_section_part(const struct mime_message *m, const struct mime_section *sec);

enum mime_fetch_kind {
	MIME_FETCH_NONE,  /* no such part, or HEADER/TEXT of a part that is not a message: the
			   * session answers with an empty string (as Dovecot does) */
	MIME_FETCH_RANGE, /* send msg[offset, offset + size) */
	MIME_FETCH_DATA,  /* send the produced bytes in data (HEADER.FIELDS[.NOT]) */
};

struct mime_fetch {
	enum mime_fetch_kind kind;
	size_t offset, size; /* RANGE */
	struct buf *data;    /* DATA: appended here; the caller supplies it */
	uint32_t part;       /* the part found, or MIME_NONE */
};

/* Resolves a section against the message. msg/len must be the bytes m was parsed from (needed
 * to filter header fields). HEADER.FIELDS output is the matching fields as stored, in message
 * order, then the empty line (always present, even when nothing matched). */
enum mime_fetch_kind mime_section_fetch(const struct mime_message *m, const char *msg, size_t len,
					const struct mime_section *sec, struct mime_fetch *res);

/* ---------------------------------------------------------------------------------------------
 * Content-Transfer-Encoding decoding (BINARY[], SEARCH). Each appends to out and returns false
 * when the input is not valid in that encoding (the output then holds a best effort, useful for
 * SEARCH; BINARY answers NO [UNKNOWN-CTE]). */

/* (base64: lib/base64.h, base64_decode_lenient.) */

/* quoted-printable: =XX (either case), soft line breaks, trailing whitespace of lines removed;
 * '=' not followed by two hex digits or a line end is an error (kept as is in the output). */
bool mime_decode_qp(const char *in, size_t len, struct buf *out);
/* Dispatches on cte: 7bit/8bit/binary are copied; MIME_CTE_UNKNOWN copies and returns false. */
bool mime_decode_cte(enum mime_cte cte, const char *in, size_t len, struct buf *out);

/* Appends in with every bare LF (and bare CR) turned into CRLF. */
void mime_normalize_crlf(const char *in, size_t len, struct buf *out);
/* The same over a stream that arrives in pieces: *cr carries a CR that ended the previous
 * piece (start with false; after the last piece call it once more with len 0 and last). */
void mime_normalize_crlf_stream(const char *in, size_t len, bool *cr, bool last, struct buf *out);

/* ---------------------------------------------------------------------------------------------
 * SEARCH support. */

enum {
	MIME_SEARCH_HEADERS = 1 << 0, /* decoded header fields of every message in the tree */
	MIME_SEARCH_BODY = 1 << 1,    /* decoded text/x bodies (and MIME headers of parts) */
};

/* Appends searchable UTF-8 text: for MIME_SEARCH_HEADERS "Name: decoded value\n" per field of
 * the top header (and of encapsulated messages when MIME_SEARCH_BODY is set too); for
 * MIME_SEARCH_BODY each text/x part decoded from its transfer encoding and charset (HTML as
 * is), plus decoded file names of attachments, each followed by "\n". Use HEADERS|BODY for
 * SEARCH TEXT and BODY for SEARCH BODY. */
void mime_search_text(const struct mime_message *m, const char *msg, size_t len, unsigned what,
		      struct buf *out);

/* Appends in (UTF-8; invalid bytes become U+FFFD) folded for comparison: ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic letters to lower case; fullwidth ASCII forms to ASCII;
 * U+FF5E and U+301C (the two Japanese wave dashes) to one. Fold both sides, then compare. */
void mime_search_fold(const char *in, size_t len, struct buf *out);

/* Whether needle occurs in haystack after folding both (an empty needle always matches). For
 * many messages against one key, fold the key once and use memmem() on folded haystacks. */
bool mime_search_contains(const char *haystack, size_t hay_len, const char *needle,
			  size_t needle_len);

/* ---------------------------------------------------------------------------------------------
 * Stored form of the part tree: compute at delivery, keep next to the message, answer FETCH
 * BODYSTRUCTURE / ENVELOPE / BODY[section] without re-parsing. Format (version 1):
 *
 *   byte     version (MIME_SERIAL_VERSION)
 *   varint   size of the message, varint number of parts
 *   per part, depth-first (parts[0] first), all integers LEB128 varints:
 *     flags, nchildren, header_offset, header_size, body_size, body_lines, cte,
 *     str type, str subtype, nparams, nparams x (str name, str value),
 *     str encoding, str id, str description, str md5, str disposition,
 *     ndisp_params, ndisp_params x (str name, str value), str language, str location,
 *     and for MIME_PART_ENVELOPE parts 10 x str (env[] in enum order)
 *   str = varint (length + 1) then the bytes; 0 stands for NULL.
 *
 * A reader of another version gets NULL and parses the message again. */
#define MIME_SERIAL_VERSION 1

void mime_message_serialize(const struct mime_message *m, struct buf *out);
/* NULL if data is not a well-formed version-MIME_SERIAL_VERSION record. The result's size is
 * that of the message the record was made from: if it differs from the bytes at hand, the record
 * is stale and its offsets meaningless, so parse those bytes instead. (mime_section_fetch() and
 * mime_search_text() never read outside the bytes they are given; direct use of part offsets
 * must check them against the message length.) */
struct mime_message *mime_message_deserialize(const char *data, size_t len);

#endif
