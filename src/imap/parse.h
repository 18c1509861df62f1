/* IMAP4rev2/rev1 client command grammar (RFC 9051, RFC 3501) as pure code: no sockets, no
 * clocks, no logging. Extensions: LITERAL+/LITERAL- (RFC 7888), BINARY literal8 (RFC 3516),
 * SEARCHRES "$" (RFC 5182), CONDSTORE/QRESYNC modifiers (RFC 7162), ESEARCH RETURN (RFC 4731).
 *
 * Four parts:
 *   1. the streaming command parser: bytes in, an argument tree (or a literal request, or an
 *      error sentence) out; fed whatever the socket delivered, even one byte at a time;
 *   2. argument helpers: typed access to the tree, numbers, atoms;
 *   3. grammar helpers over arguments: sequence sets (seqset.c), FETCH attributes (fetchatt.c),
 *      SEARCH programs and dates (search.c);
 *   4. modified UTF-7 mailbox names (RFC 3501 5.1.3), both directions, strict.
 *
 * How a session drives the streaming parser:
 *
 *	size_t used;
 *	switch (imap_parser_feed(p, data, len, &used)) {   // then drop `used` bytes of input
 *	case IMAP_PARSE_NEED_MORE:  wait for more bytes (all of them were used);
 *	case IMAP_PARSE_DONE:       run imap_parser_command(p), then feed the rest;
 *	case IMAP_PARSE_LITERAL:    "{n}" announced: send "+ ..." and imap_parser_literal_accept(),
 *	                            or answer NO/BAD and imap_parser_literal_refuse() (the client
 *	                            sends no literal then, and the next bytes start a new command);
 *	case IMAP_PARSE_ERROR:      answer imap_parser_error(p) (tagged when its tag is known, else
 *	                            "* BAD"); if it is fatal, say BYE and close; else feed the rest:
 *	                            the parser skips the broken command by itself.
 *	}
 *
 * AUTHENTICATE responses and IDLE's "DONE" are not commands: once the parser returned DONE for
 * those, the session reads the following lines with its own line reader (the parser consumed
 * nothing after the command's CRLF). */
#ifndef YUBIN_IMAP_PARSE_H
#define YUBIN_IMAP_PARSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/arena.h"
#include "lib/buf.h"

/* ---- 1. The streaming command parser ------------------------------------------------------- */

enum imap_arg_type {
	IMAP_ARG_NIL,     /* the atom NIL (any case); str is "NIL" as written, for astrings */
	IMAP_ARG_ATOM,    /* atom, also flags (\Seen), sequence sets, "*" and BODY[...]<..> items */
	IMAP_ARG_STRING,  /* quoted string, escapes removed; 8-bit only as valid UTF-8 */
	IMAP_ARG_LITERAL, /* {n} / {n+} / ~{n} literal: binary-safe, use len */
	IMAP_ARG_LIST,    /* ( ... ) */
};

/* One argument. Strings are NUL-terminated after len (literal8 data may hold NUL bytes too).
 * Atoms are 7-bit: a client with 8-bit text (UTF-8 mailbox names, search strings) must quote
 * it, and a quoted string must then be valid UTF-8; other charsets need a literal.
 *
 * BODY[...], BODY.PEEK[...], BINARY[...], BINARY.PEEK[...] and BINARY.SIZE[...] are one ATOM
 * even though the part between the brackets may hold spaces, parentheses and quoted strings:
 * "BODY[HEADER.FIELDS (From To)]<0.100>" arrives whole, and imap_section_parse() (or
 * imap_fetch_atts_parse()) reads the section from it. Only these prefixes open brackets, so a
 * mailbox atom such as "a[b" stays an ordinary atom. */
struct imap_arg {
	enum imap_arg_type type;
	bool literal8;               /* LITERAL: sent as ~{n}; may contain NUL */
	bool outside;                /* LITERAL: its bytes went to the session, not here
	                                (imap_parser_literal_outside); str is "", len 0 */
	const char *str;             /* NIL, ATOM, STRING, LITERAL */
	size_t len;
	const struct imap_arg *list; /* LIST: its elements */
	size_t count;
};

/* A complete command. Everything it points to lives in one arena freed with the command. */
struct imap_command {
	const char *tag;
	const char *name;            /* as written; compare with strcasecmp ("UID" is a name too) */
	const struct imap_arg *args; /* the arguments after the name */
	size_t count;
	size_t literal_bytes;        /* sum of the literal sizes in this command */
	struct arena *arena_;        /* private */
};

/* Every limit is checked before the memory it guards is spent. */
struct imap_parser_limits {
	size_t max_line;          /* command bytes outside literal data: tag, args, CRLFs, {n};
	                             all lines of a command with literals count together */
	size_t max_literal;       /* one literal */
	size_t max_literal_total; /* all literals of one command (0: same as max_literal) */
	size_t max_command;       /* line bytes and literals of one command together (0: no
	                             limit of its own); before login this keeps a command small */
	size_t max_nonsync;       /* largest {n+}: 0 = neither LITERAL+ nor LITERAL- advertised,
	                             4096 = LITERAL-, max_literal = LITERAL+ */
	size_t max_depth;         /* nesting of ( ): "((x))" is depth 2 */
	size_t max_args;          /* arguments in the whole tree, lists included */
	bool literal8;            /* accept ~{n} (BINARY advertised) */
};

enum imap_parse_status {
	IMAP_PARSE_NEED_MORE, /* every byte given was used; feed more */
	IMAP_PARSE_DONE,      /* a command is ready: imap_parser_command() */
	IMAP_PARSE_LITERAL,   /* a synchronizing literal waits for accept/refuse */
	IMAP_PARSE_ERROR,     /* imap_parser_error() */
};

enum imap_parse_error_code {
	IMAP_PARSE_ERR_SYNTAX, /* answer BAD */
	IMAP_PARSE_ERR_LIMIT,  /* a configured limit: BAD [LIMIT] (or NO [LIMIT]) */
	IMAP_PARSE_ERR_TOOBIG, /* a literal larger than allowed: NO [TOOBIG] ({n}) / BAD [TOOBIG] */
};

struct imap_parse_error {
	enum imap_parse_error_code code;
	const char *text; /* one sentence, no CRLF */
	const char *tag;  /* the command's tag; NULL when the error came before the tag ended */
	bool fatal;       /* the input cannot be resynchronised (a huge {n+} literal follows):
	                     send BYE and close */
};

struct imap_parser;

/* Sensible server defaults: 64 KiB lines, 64 MiB literals, LITERAL- (4096), depth 16, 10000
 * arguments, literal8 on. */
void imap_parser_limits_default(struct imap_parser_limits *limits);
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
/* Frees the parser and the command it still holds; sets *p to NULL. */
void imap_parser_free(struct imap_parser **p);

/* Consumes bytes from data until a command, a literal request or an error is complete, and
 * says how many bytes it used in *consumed (all of them for NEED_MORE). Feeding while a literal
 * decision is pending is a bug and aborts. A new feed after DONE frees the previous command
 * unless it was taken. */
enum imap_parse_status imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
					size_t *consumed);

/* After DONE: the command, valid until the next feed, reset or free. */
const struct imap_command *imap_parser_command(const struct imap_parser *p);
/* After DONE: the caller takes the command (so it may outlive the next feed) and frees it with
 * imap_command_free(). */
struct imap_command *imap_parser_take_command(struct imap_parser *p);
void imap_command_free(struct imap_command **cmd);
/* After DONE, once the command has run: frees it now rather than at the next feed, so a
 * session that sits idle for hours holds no parsed command. */
void imap_parser_release(struct imap_parser *p);

/* After ERROR: valid until the next feed, reset or free. */
const struct imap_parse_error *imap_parser_error(const struct imap_parser *p);

/* While a command is being read (e.g. after LITERAL): its tag and name so far, or NULL. */
const char *imap_parser_tag(const struct imap_parser *p);
const char *imap_parser_name(const struct imap_parser *p);
/* Bytes the command being read holds now: its line bytes and the literals accepted so far
 * (a literal counts in full once accepted: its space is taken then). 0 between commands. */
size_t imap_parser_held(const struct imap_parser *p);
/* After LITERAL: the announced size (already within max_literal and max_literal_total), and
 * whether it is a literal8 (~{n}). */
uint64_t imap_parser_literal_size(const struct imap_parser *p);
bool imap_parser_literal_is8(const struct imap_parser *p);
/* After LITERAL: the session sent "+ " and the parser now reads the literal bytes. */
void imap_parser_literal_accept(struct imap_parser *p);
/* After LITERAL: the session sent "+ " and reads the literal's bytes itself (a message for
 * APPEND goes to a spool, not to memory); it feeds the parser again only after the last of
 * them. The argument is a LITERAL marked outside. */
void imap_parser_literal_outside(struct imap_parser *p);
/* After LITERAL: the session answered the command with NO or BAD; the parser drops it. */
void imap_parser_literal_refuse(struct imap_parser *p);
/* Forgets any partial command, pending error or skipping (after STARTTLS the session throws
 * away buffered input, and the parser must start clean). */
void imap_parser_reset(struct imap_parser *p);

/* ---- 2. Argument helpers ------------------------------------------------------------------ */

/* ATOM equal to word, ignoring ASCII case. */
bool imap_arg_atom_equals(const struct imap_arg *a, const char *word);
/* astring = atom / string: ATOM, STRING, LITERAL (not literal8), and NIL read as "NIL". */
bool imap_arg_get_astring(const struct imap_arg *a, const char **s, size_t *len);
/* string only: STRING or LITERAL (not literal8). */
bool imap_arg_get_string(const struct imap_arg *a, const char **s, size_t *len);
bool imap_arg_get_list(const struct imap_arg *a, const struct imap_arg **list, size_t *count);
/* number (RFC 9051): 1*DIGIT up to 4294967295; nz-number excludes 0. */
bool imap_parse_number(const char *s, size_t len, uint32_t *out);
bool imap_parse_nz_number(const char *s, size_t len, uint32_t *out);
/* number64 / mod-sequence-valzer: 1*DIGIT up to 2^63-1. */
bool imap_parse_number64(const char *s, size_t len, uint64_t *out);
/* Strict atom (1*ATOM-CHAR): no specials, wildcards, backslash or "]"; for keywords. */
bool imap_is_atom(const char *s, size_t len);

/* ---- 3a. Sequence sets (seqset.c) --------------------------------------------------------- */

/* "*" (the largest number in use) as stored in a range. A literal 4294967295 reads the same:
 * as in Dovecot, it is the largest UID or sequence number there can be. */
#define IMAP_SEQ_STAR UINT32_MAX

/* low <= high always; "*:5" is stored as {5, IMAP_SEQ_STAR}. */
struct imap_seq_range {
	uint32_t low, high;
};

struct imap_seqset {
	struct imap_seq_range *ranges; /* in the order written, not merged */
	size_t count;
	bool last_result;              /* "$": the saved SEARCH result (RFC 5182); count is 0 */
};

/* Parses "1,3:5,7:*" or "$" with at most max_ranges ranges (checked before allocating).
 * On failure *err is a sentence and out is empty. Free with imap_seqset_free(). */
bool imap_seqset_parse(const char *s, size_t len, size_t max_ranges, struct imap_seqset *out,
		       const char **err);
void imap_seqset_free(struct imap_seqset *set);
/* The range with "*" replaced by star (the largest number in use), re-ordered so lo <= hi. */
void imap_seq_range_resolve(const struct imap_seq_range *r, uint32_t star, uint32_t *lo,
			    uint32_t *hi);
/* Whether n is in the set when "*" means star. A "$" set contains nothing here: the session
 * substitutes its saved result. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t star);

/* ---- 3b. FETCH attributes (fetchatt.c) ---------------------------------------------------- */

enum imap_fetch_item {
	IMAP_FETCH_FLAGS = 1u << 0,
	IMAP_FETCH_UID = 1u << 1,
	IMAP_FETCH_INTERNALDATE = 1u << 2,
	IMAP_FETCH_RFC822_SIZE = 1u << 3,
	IMAP_FETCH_RFC822 = 1u << 4,        /* = BODY[], sets \Seen; answered as "RFC822" */
	IMAP_FETCH_RFC822_HEADER = 1u << 5, /* = BODY.PEEK[HEADER]; answered as "RFC822.HEADER" */
	IMAP_FETCH_RFC822_TEXT = 1u << 6,   /* = BODY[TEXT], sets \Seen */
	IMAP_FETCH_ENVELOPE = 1u << 7,
	IMAP_FETCH_BODY = 1u << 8,          /* BODY without brackets: structure, no extensions */
	IMAP_FETCH_BODYSTRUCTURE = 1u << 9,
	IMAP_FETCH_MODSEQ = 1u << 10,       /* also set by CHANGEDSINCE (RFC 7162 3.1.4.1) */
};

enum imap_section_spec {
	IMAP_SECTION_WHOLE,             /* BODY[] or BODY[1.2]: the whole message or part */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,              /* only after a part number */
};

#define IMAP_SECTION_MAX_PARTS 32

struct imap_section {
	uint32_t parts[IMAP_SECTION_MAX_PARTS]; /* "1.2.3" */
	size_t nparts;
	enum imap_section_spec spec;
	char **fields;                          /* HEADER.FIELDS(.NOT): names as written (owned) */
	size_t nfields;
};

enum imap_fetch_body_kind {
	IMAP_FETCH_BODY_SECTION, /* BODY[section]<partial>, BODY.PEEK[...] */
	IMAP_FETCH_BINARY,       /* BINARY[part]<partial>, BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,  /* BINARY.SIZE[part] */
};

struct imap_fetch_body {
	enum imap_fetch_body_kind kind;
	bool peek;
	struct imap_section section;
	bool partial;            /* <offset.length> */
	uint64_t offset, length; /* length >= 1 */
};

struct imap_fetch_atts {
	unsigned items;                /* enum imap_fetch_item bits; macros are expanded */
	struct imap_fetch_body *bodies;
	size_t nbodies;
	bool changedsince;             /* modifier CHANGEDSINCE <modseq> (CONDSTORE) */
	uint64_t changedsince_modseq;
	bool vanished;                 /* modifier VANISHED (QRESYNC; needs CHANGEDSINCE) */
};

/* atts: the FETCH argument after the sequence set (an atom, a macro, or a list); modifiers:
 * the optional list after it, or NULL. On failure *err is a sentence and out is empty. Free
 * with imap_fetch_atts_free(). Nothing in out points into the arguments. */
bool imap_fetch_atts_parse(const struct imap_arg *atts, const struct imap_arg *modifiers,
			   struct imap_fetch_atts *out, const char **err);
void imap_fetch_atts_free(struct imap_fetch_atts *f);
/* The text between "[" and "]" of a BODY/BINARY item: "1.2.HEADER.FIELDS (A B)". binary: only
 * part numbers are allowed (BINARY, BINARY.SIZE). Free with imap_section_free(). */
bool imap_section_parse(const char *s, size_t len, bool binary, struct imap_section *out,
			const char **err);
void imap_section_free(struct imap_section *s);
/* Appends the section as the server echoes it in a FETCH response (without brackets). Field
 * names that are not atoms are quoted. */
void imap_section_format(const struct imap_section *s, struct buf *out);

/* ---- 3c. Dates (search.c) ---------------------------------------------------------------- */

struct imap_date {
	int year, month, day; /* month 1-12 */
};

struct imap_datetime {
	struct imap_date date;
	int hour, min, sec;
	int zone_minutes;     /* east of UTC: "+0100" is 60 */
};

/* date-text "1-Feb-1994" (the quotes of a quoted date are already gone in an argument). */
bool imap_date_parse(const char *s, size_t len, struct imap_date *out);
/* date-time "01-Feb-1994 10:00:00 +0100" (day may be " 1" or "1" too), as in APPEND. */
bool imap_datetime_parse(const char *s, size_t len, struct imap_datetime *out);
/* Seconds since 1970-01-01 UTC: the date at 00:00 UTC, or the date-time in UTC. */
int64_t imap_date_to_unix(const struct imap_date *d);
int64_t imap_datetime_to_unix(const struct imap_datetime *dt);

/* ---- 3d. SEARCH (search.c) --------------------------------------------------------------- */

enum imap_search_key_type {
	IMAP_SEARCH_AND,        /* children: all match (the program, or a parenthesised group) */
	IMAP_SEARCH_OR,         /* children[0] or children[1] */
	IMAP_SEARCH_NOT,        /* children[0] does not match */
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_SEQSET,     /* seqset: message sequence numbers */
	IMAP_SEARCH_UID,        /* seqset: UIDs */
	IMAP_SEARCH_ANSWERED, IMAP_SEARCH_DELETED, IMAP_SEARCH_DRAFT, IMAP_SEARCH_FLAGGED,
	IMAP_SEARCH_SEEN, IMAP_SEARCH_UNANSWERED, IMAP_SEARCH_UNDELETED, IMAP_SEARCH_UNDRAFT,
	IMAP_SEARCH_UNFLAGGED, IMAP_SEARCH_UNSEEN,
	IMAP_SEARCH_NEW, IMAP_SEARCH_OLD, IMAP_SEARCH_RECENT, /* rev1 only */
	IMAP_SEARCH_KEYWORD, IMAP_SEARCH_UNKEYWORD,           /* str: the keyword (an atom) */
	IMAP_SEARCH_BCC, IMAP_SEARCH_CC, IMAP_SEARCH_FROM, IMAP_SEARCH_TO, IMAP_SEARCH_SUBJECT,
	IMAP_SEARCH_BODY, IMAP_SEARCH_TEXT,                   /* str: the text to find */
	IMAP_SEARCH_HEADER,                                   /* field, str: the value */
	IMAP_SEARCH_BEFORE, IMAP_SEARCH_ON, IMAP_SEARCH_SINCE,             /* date: internal date */
	IMAP_SEARCH_SENTBEFORE, IMAP_SEARCH_SENTON, IMAP_SEARCH_SENTSINCE, /* date: Date: header */
	IMAP_SEARCH_LARGER, IMAP_SEARCH_SMALLER,              /* number: RFC822.SIZE */
	IMAP_SEARCH_MODSEQ,                                   /* number; modseq_entry optional */
};

enum imap_modseq_entry_type { IMAP_MODSEQ_ALL, IMAP_MODSEQ_PRIV, IMAP_MODSEQ_SHARED };

/* Strings borrow from the command's arguments: keep the command until the search is freed. */
struct imap_search_key {
	enum imap_search_key_type type;
	const char *str;             /* text keys, HEADER value, KEYWORD; may hold NUL (literal) */
	size_t len;
	const char *field;           /* HEADER */
	size_t field_len;
	struct imap_date date;
	uint64_t number;
	struct imap_seqset seqset;
	const char *modseq_entry;    /* MODSEQ "/flags/\\Seen" priv: the entry name, or NULL */
	enum imap_modseq_entry_type modseq_type;
	struct imap_search_key *children;
	size_t nchildren;
};

enum imap_search_return {
	IMAP_SEARCH_RETURN_MIN = 1u << 0,
	IMAP_SEARCH_RETURN_MAX = 1u << 1,
	IMAP_SEARCH_RETURN_ALL = 1u << 2,
	IMAP_SEARCH_RETURN_COUNT = 1u << 3,
	IMAP_SEARCH_RETURN_SAVE = 1u << 4,
};

struct imap_search {
	bool has_return;     /* RETURN (...) given: answer with ESEARCH */
	unsigned returns;    /* enum imap_search_return bits; "RETURN ()" means ALL */
	const char *charset; /* CHARSET argument, or NULL */
	struct imap_search_key root; /* type AND, at least one child */
};

struct imap_search_limits {
	size_t max_depth;  /* nesting of NOT, OR and ( ) */
	size_t max_ranges; /* ranges in each sequence set */
};

/* args: the SEARCH arguments after the command name (after "UID SEARCH" for UID SEARCH).
 * On failure *err is a sentence and out is empty. Free with imap_search_free(). */
bool imap_search_parse(const struct imap_arg *args, size_t count,
		       const struct imap_search_limits *limits, struct imap_search *out,
		       const char **err);
void imap_search_free(struct imap_search *s);

/* ---- 4. Modified UTF-7 mailbox names (parse.c) ------------------------------------------- */

/* Appends the UTF-8 form of a modified UTF-7 name to out. Rejects what RFC 3501 5.1.3 forbids
 * or makes ambiguous: 8-bit or control bytes, unterminated or null shifts ("-&"), printable
 * ASCII or controls in base64, bad padding bits, broken surrogate pairs. On failure out keeps
 * only what it held before. */
bool imap_utf7_decode(const char *s, size_t len, struct buf *out, const char **err);
/* Appends the modified UTF-7 form of a UTF-8 name; rejects invalid UTF-8 and controls. */
bool imap_utf7_encode(const char *s, size_t len, struct buf *out, const char **err);
bool imap_utf7_is_valid(const char *s, size_t len);

#endif
