/* The streaming IMAP command parser (a byte-at-a-time state machine, so a command split
 * anywhere by the network parses the same), argument helpers and modified UTF-7. */
#include "imap/parse.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"
#include "lib/arena.h"
#include "lib/utf8.h"

/* One arena per command, so a finished command is freed in one go. Most commands fit in the
 * first, small chunk; long ones (SEARCH programs, many flags) go on in bigger ones. */
#define COMMAND_FIRST_CHUNK 1024
#define COMMAND_CHUNK 4096

/* ---- Parser state ------------------------------------------------------------------------- */

enum state {
	S_START,              /* before a tag; empty lines are ignored here */
	S_START_CR,           /* CR of an empty line */
	S_TAG,
	S_NAME_START,         /* after the tag's space */
	S_NAME,
	S_ARGS,               /* an argument may start: after a space or "(" */
	S_ARG_END,            /* an argument ended: space, ")" or end of line must follow */
	S_ATOM,
	S_ATOM_BRACKET,       /* inside the [...] of BODY[...] and friends */
	S_ATOM_BRACKET_QUOTED,
	S_ATOM_BRACKET_ESC,
	S_QUOTED,
	S_QUOTED_ESC,
	S_TILDE,              /* "~" at the start of an argument: literal8 or an atom */
	S_LIT_SIZE,           /* digits after "{" */
	S_LIT_CLOSE,          /* after "+": expects "}" */
	S_LIT_EOL,            /* after "}": expects CRLF */
	S_LIT_LF,
	S_LIT_WAIT,           /* LITERAL returned; the session must accept or refuse */
	S_LIT_DATA,
	S_EOL_LF,             /* CR at the end of a command */
	S_DONE,
	S_SKIP_LINE,          /* after an error: up to the next line end outside a literal */
	S_SKIP_LITERAL,       /* after an error: bytes of a literal the client sends anyway */
	S_FATAL,
};

/* The tree is built as linked nodes (counts are unknown while streaming) and turned into
 * arrays once the command is complete. */
struct node {
	struct imap_arg arg;
	struct node *next, *first, *last, *parent;
};

struct imap_parser {
	struct imap_parser_limits lim;
	enum state state;
	struct buf tok;              /* the token being read (tag, name, atom, quoted) */
	bool tok_8bit;
	bool bracket_done;           /* this atom had its [...] already */

	struct imap_command *cmd;    /* being built; NULL before the tag */
	struct node root, *cur;      /* cur: the innermost open list */
	size_t depth, nargs;
	size_t line_used;            /* non-literal bytes of this command */

	uint64_t lit_size;           /* announced size (saturated at UINT64_MAX) */
	size_t lit_digits;
	bool lit_nonsync, lit8;
	char *lit_data;
	size_t lit_got;

	int skip_lit;                /* S_SKIP_LINE: progress through "{n+}" CRLF */
	uint64_t skip_num;
	uint64_t skip_left;          /* S_SKIP_LITERAL */

	struct imap_command *done;   /* after DONE, unless taken */
	struct imap_parse_error err;
	struct buf err_text, err_tag;
};

enum step {
	STEP_CONSUME,     /* byte used */
	STEP_AGAIN,       /* state changed; look at the same byte again */
	STEP_DONE,        /* byte used, command complete */
	STEP_LITERAL,     /* byte used, a synchronizing literal waits */
	STEP_ERROR,       /* byte used, error reported */
	STEP_ERROR_AGAIN, /* error reported; the byte belongs to the skipped rest */
};

void imap_parser_limits_default(struct imap_parser_limits *l)
{
	l->max_line = 64 * 1024;
	l->max_literal = 64 * 1024 * 1024;
	l->max_literal_total = 0;
	l->max_command = 0;
	l->max_nonsync = 4096;
	l->max_depth = 16;
	l->max_args = 10000;
	l->literal8 = true;
}

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof *p);
	p->lim = *limits;
	if (p->lim.max_literal_total == 0)
		p->lim.max_literal_total = p->lim.max_literal;
	p->state = S_START;
	return p;
}

static void command_drop(struct imap_parser *p)
{
	if (p->cmd) {
		arena_free(p->cmd->arena_);
		p->cmd = NULL;
	}
	memset(&p->root, 0, sizeof p->root);
	p->cur = &p->root;
	p->depth = p->nargs = 0;
	p->line_used = 0;
	p->lit_data = NULL;
}

static void done_drop(struct imap_parser *p)
{
	if (p->done)
		imap_command_free(&p->done);
}

void imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;
	if (!p)
		return;
	command_drop(p);
	done_drop(p);
	buf_free(&p->tok);
	buf_free(&p->err_text);
	buf_free(&p->err_tag);
	free(p);
	*pp = NULL;
}

void imap_parser_reset(struct imap_parser *p)
{
	command_drop(p);
	done_drop(p);
	buf_reset(&p->tok);
	p->state = S_START;
}

void imap_parser_release(struct imap_parser *p)
{
	if (p->state == S_DONE) {
		done_drop(p);
		p->state = S_START;
	}
}

void imap_command_free(struct imap_command **cmd)
{
	if (*cmd) {
		arena_free((*cmd)->arena_);
		*cmd = NULL;
	}
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
	return p->done;
}

struct imap_command *imap_parser_take_command(struct imap_parser *p)
{
	struct imap_command *c = p->done;
	p->done = NULL;
	return c;
}

const struct imap_parse_error *imap_parser_error(const struct imap_parser *p)
{
	return &p->err;
}

const char *imap_parser_tag(const struct imap_parser *p)
{
	return p->cmd ? p->cmd->tag : NULL;
}

const char *imap_parser_name(const struct imap_parser *p)
{
	return p->cmd ? p->cmd->name : NULL;
}

size_t imap_parser_held(const struct imap_parser *p)
{
	return p->line_used + (p->cmd ? p->cmd->literal_bytes : 0);
}

uint64_t imap_parser_literal_size(const struct imap_parser *p)
{
	return p->lit_size;
}

bool imap_parser_literal_is8(const struct imap_parser *p)
{
	return p->lit8;
}

/* ---- Errors -------------------------------------------------------------------------------- */

/* Records the error, drops the partial command and starts skipping to the end of the line. */
__attribute__((format(printf, 3, 4)))
static enum step fail(struct imap_parser *p, enum imap_parse_error_code code, const char *fmt, ...)
{
	buf_reset(&p->err_text);
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&p->err_text, fmt, ap);
	va_end(ap);
	buf_reset(&p->err_tag);
	const char *tag = imap_parser_tag(p);
	if (tag)
		buf_append_str(&p->err_tag, tag);
	p->err.code = code;
	p->err.text = buf_cstr(&p->err_text);
	p->err.tag = tag ? buf_cstr(&p->err_tag) : NULL;
	p->err.fatal = false;
	command_drop(p);
	p->state = S_SKIP_LINE;
	p->skip_lit = 0;
	return STEP_ERROR_AGAIN;
}

/* A client sends the data of a {n+} literal whatever we answer, so a rejected one is skipped;
 * one larger than any literal we would take is not worth reading: the peer is cut off. */
static void skip_nonsync_data(struct imap_parser *p, uint64_t size)
{
	if (size > p->lim.max_literal) {
		buf_reset(&p->err_text);
		buf_printf(&p->err_text, "Non-synchronizing literal larger than %zu bytes; %s",
			   p->lim.max_literal, "closing the connection");
		p->err.code = IMAP_PARSE_ERR_TOOBIG;
		p->err.text = buf_cstr(&p->err_text);
		p->err.fatal = true;
		p->state = S_FATAL;
		return;
	}
	p->skip_left = size;
	p->skip_lit = 0;
	p->state = S_SKIP_LITERAL;
}

/* ---- Character classes ---------------------------------------------------------------------- */

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool is_tag_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\+", c);
}

static bool is_name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* What the parser takes into an atom. Wider than ATOM-CHAR, on purpose: list wildcards (LIST
 * patterns), "\" (flags), "]" (astrings) and "*" (sequence sets) all arrive as atoms, and the
 * command decides what it accepts (imap_is_atom() checks the strict form). */
static bool is_atom_input_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

static bool is_strict_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("(){%*\"\\]", c);
}

/* ---- Building the tree ---------------------------------------------------------------------- */

static void command_begin(struct imap_parser *p)
{
	struct arena *a = arena_new(COMMAND_FIRST_CHUNK, COMMAND_CHUNK);
	p->cmd = arena_zalloc(a, sizeof *p->cmd);
	p->cmd->arena_ = a;
	memset(&p->root, 0, sizeof p->root);
	p->root.arg.type = IMAP_ARG_LIST;
	p->cur = &p->root;
}

static struct node *node_add(struct imap_parser *p, enum imap_arg_type type)
{
	struct node *n = arena_alloc(p->cmd->arena_, sizeof *n);
	memset(n, 0, sizeof *n);
	n->arg.type = type;
	n->parent = p->cur;
	if (p->cur->last)
		p->cur->last->next = n;
	else
		p->cur->first = n;
	p->cur->last = n;
	p->cur->arg.count++;
	return n;
}

/* Checked when an argument starts, before anything is stored for it. */
static bool arg_room(struct imap_parser *p)
{
	return p->nargs < p->lim.max_args;
}

static enum step fail_args(struct imap_parser *p)
{
	return fail(p, IMAP_PARSE_ERR_LIMIT, "Too many arguments (the limit is %zu)",
		    p->lim.max_args);
}

static void list_to_array(struct arena *a, struct node *list, struct imap_arg *out)
{
	*out = list->arg;
	if (list->arg.count == 0) {
		out->list = NULL;
		return;
	}
	struct imap_arg *arr = arena_alloc(a, list->arg.count * sizeof *arr);
	size_t i = 0;
	for (struct node *n = list->first; n; n = n->next, i++) {
		if (n->arg.type == IMAP_ARG_LIST)
			list_to_array(a, n, &arr[i]);
		else
			arr[i] = n->arg;
	}
	out->list = arr;
}

static enum step command_finish(struct imap_parser *p)
{
	if (p->depth > 0)
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing ')' at the end of the line");
	struct imap_arg top;
	list_to_array(p->cmd->arena_, &p->root, &top);
	p->cmd->args = top.list;
	p->cmd->count = top.count;
	p->done = p->cmd;
	p->cmd = NULL;
	command_drop(p);
	p->state = S_DONE;
	return STEP_DONE;
}

static const char *tok_copy(struct imap_parser *p)
{
	return arena_strndup(p->cmd->arena_, p->tok.data ? p->tok.data : "", p->tok.len);
}

static void atom_finish(struct imap_parser *p)
{
	bool nil = p->tok.len == 3 && strncasecmp(p->tok.data, "NIL", 3) == 0;
	struct node *n = node_add(p, nil ? IMAP_ARG_NIL : IMAP_ARG_ATOM);
	n->arg.str = tok_copy(p);
	n->arg.len = p->tok.len;
}

static void literal_finish(struct imap_parser *p)
{
	struct node *n = node_add(p, IMAP_ARG_LITERAL);
	n->arg.str = p->lit_data;
	n->arg.len = (size_t)p->lit_size;
	n->arg.literal8 = p->lit8;
	p->lit_data = NULL;
	p->state = S_ARG_END;
}

/* Space for the literal is taken only now, after every limit passed. */
static void literal_start(struct imap_parser *p)
{
	p->nargs++;
	p->cmd->literal_bytes += (size_t)p->lit_size;
	p->lit_data = arena_alloc(p->cmd->arena_, (size_t)p->lit_size + 1);
	p->lit_data[p->lit_size] = '\0';
	p->lit_got = 0;
	p->state = S_LIT_DATA;
	if (p->lit_size == 0)
		literal_finish(p);
}

/* The "{n}" / "{n+}" CRLF is complete. */
static enum step literal_announced(struct imap_parser *p)
{
	uint64_t n = p->lit_size;
	bool nonsync = p->lit_nonsync;
	enum step r = STEP_CONSUME;
	if (p->lit8 && !p->lim.literal8) {
		r = fail(p, IMAP_PARSE_ERR_SYNTAX, "Binary literals (~{n}) are not supported here");
	} else if (nonsync && p->lim.max_nonsync == 0) {
		r = fail(p, IMAP_PARSE_ERR_SYNTAX, "Non-synchronizing literals are not supported");
	} else if (nonsync && n > p->lim.max_nonsync) {
		r = fail(p, IMAP_PARSE_ERR_TOOBIG,
			 "Non-synchronizing literal larger than %zu bytes; send it as {n}",
			 p->lim.max_nonsync);
	} else if (n > p->lim.max_literal) {
		r = fail(p, IMAP_PARSE_ERR_TOOBIG, "Literal larger than %zu bytes",
			 p->lim.max_literal);
	} else if (p->cmd->literal_bytes + n > p->lim.max_literal_total) {
		r = fail(p, IMAP_PARSE_ERR_TOOBIG,
			 "Literals of this command exceed %zu bytes in total",
			 p->lim.max_literal_total);
	} else if (p->lim.max_command &&
		   p->line_used + p->cmd->literal_bytes + n > p->lim.max_command) {
		r = fail(p, IMAP_PARSE_ERR_LIMIT, "This command is larger than %zu bytes, its "
			 "literals included", p->lim.max_command);
	}
	if (r == STEP_ERROR_AGAIN) {
		/* The CRLF is taken: after a refused {n} the client sends nothing more of the
		 * command; after a refused {n+} its data comes anyway. */
		if (nonsync)
			skip_nonsync_data(p, n);
		else
			p->state = S_START;
		return STEP_ERROR;
	}
	if (!nonsync) {
		p->state = S_LIT_WAIT;
		return STEP_LITERAL;
	}
	literal_start(p);
	return STEP_CONSUME;
}

void imap_parser_literal_accept(struct imap_parser *p)
{
	if (p->state != S_LIT_WAIT)
		abort();
	literal_start(p);
}

void imap_parser_literal_outside(struct imap_parser *p)
{
	if (p->state != S_LIT_WAIT)
		abort();
	p->nargs++;
	struct node *n = node_add(p, IMAP_ARG_LITERAL);
	n->arg.str = "";
	n->arg.len = 0;
	n->arg.literal8 = p->lit8;
	n->arg.outside = true;
	p->state = S_ARG_END;
}

void imap_parser_literal_refuse(struct imap_parser *p)
{
	if (p->state != S_LIT_WAIT)
		abort();
	command_drop(p);
	p->state = S_START;
}

/* ---- The state machine ------------------------------------------------------------------ */

static const char *const bracket_prefixes[] = {
	"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE",
};

static bool atom_opens_bracket(const struct imap_parser *p)
{
	for (size_t i = 0; i < sizeof bracket_prefixes / sizeof bracket_prefixes[0]; i++) {
		size_t n = strlen(bracket_prefixes[i]);
		if (p->tok.len == n && strncasecmp(p->tok.data, bracket_prefixes[i], n) == 0)
			return true;
	}
	return false;
}

static enum step fail_char(struct imap_parser *p, const char *where, unsigned char c)
{
	if (c >= 0x21 && c < 0x7f)
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Unexpected '%c' in %s", c, where);
	return fail(p, IMAP_PARSE_ERR_SYNTAX, "Unexpected byte 0x%02x in %s", c, where);
}

static enum step step_arg_start(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		return STEP_CONSUME;
	case '\r':
		p->state = S_EOL_LF;
		return STEP_CONSUME;
	case '\n':
		return command_finish(p);
	case '(':
		if (p->depth >= p->lim.max_depth)
			return fail(p, IMAP_PARSE_ERR_LIMIT,
				    "Parentheses nested deeper than %zu levels", p->lim.max_depth);
		if (!arg_room(p))
			return fail_args(p);
		p->nargs++;
		p->depth++;
		p->cur = node_add(p, IMAP_ARG_LIST);
		return STEP_CONSUME;
	case ')':
		if (p->depth == 0)
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "Unexpected ')' without '('");
		p->depth--;
		p->cur = p->cur->parent;
		p->state = S_ARG_END;
		return STEP_CONSUME;
	}
	if (!arg_room(p))
		return fail_args(p);
	buf_reset(&p->tok);
	p->tok_8bit = false;
	p->bracket_done = false;
	switch (c) {
	case '"':
		p->state = S_QUOTED;
		return STEP_CONSUME;
	case '{':
		p->lit8 = false;
		p->state = S_LIT_SIZE;
		p->lit_size = 0;
		p->lit_digits = 0;
		p->lit_nonsync = false;
		return STEP_CONSUME;
	case '~':
		buf_append_char(&p->tok, '~');
		p->state = S_TILDE;
		return STEP_CONSUME;
	}
	if (!is_atom_input_char(c))
		return fail_char(p, "an argument", c);
	p->state = S_ATOM;
	return STEP_AGAIN;
}

static enum step step_atom(struct imap_parser *p, unsigned char c)
{
	if (c == ' ' || c == '\r' || c == '\n' || c == ')') {
		p->nargs++;
		atom_finish(p);
		p->state = S_ARG_END;
		return STEP_AGAIN;
	}
	if (!is_atom_input_char(c))
		return fail_char(p, "an atom", c);
	if (c == '[' && !p->bracket_done && atom_opens_bracket(p))
		p->state = S_ATOM_BRACKET;
	buf_append_char(&p->tok, (char)c);
	return STEP_CONSUME;
}

static const char bad_escape[] =
	"Invalid escape in a quoted string (only \\\\ and \\\" are allowed)";

static enum step step_bracket(struct imap_parser *p, unsigned char c)
{
	if (p->state == S_ATOM_BRACKET_ESC) {
		if (c != '\\' && c != '"')
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "%s", bad_escape);
		p->state = S_ATOM_BRACKET_QUOTED;
	} else if (c == '\r' || c == '\n') {
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing ']' before the end of the line");
	} else if (c < 0x20 || c >= 0x7f) {
		return fail_char(p, "a section [...]", c);
	} else if (p->state == S_ATOM_BRACKET_QUOTED) {
		if (c == '"')
			p->state = S_ATOM_BRACKET;
		else if (c == '\\')
			p->state = S_ATOM_BRACKET_ESC;
	} else if (c == '{') {
		return fail(p, IMAP_PARSE_ERR_SYNTAX,
			    "Literals inside a section [...] are not supported");
	} else if (c == '[') {
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Unexpected '[' inside a section [...]");
	} else if (c == '"') {
		p->state = S_ATOM_BRACKET_QUOTED;
	} else if (c == ']') {
		p->bracket_done = true;
		p->state = S_ATOM;
	}
	buf_append_char(&p->tok, (char)c);
	return STEP_CONSUME;
}

static enum step step_quoted(struct imap_parser *p, unsigned char c)
{
	if (p->state == S_QUOTED_ESC) {
		if (c != '\\' && c != '"')
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "%s", bad_escape);
		buf_append_char(&p->tok, (char)c);
		p->state = S_QUOTED;
		return STEP_CONSUME;
	}
	switch (c) {
	case '"':
		if (p->tok_8bit && !utf8_valid(p->tok.data, p->tok.len))
			return fail(p, IMAP_PARSE_ERR_SYNTAX,
				    "Quoted string is not valid UTF-8 (use a literal)");
		p->nargs++;
		struct node *n = node_add(p, IMAP_ARG_STRING);
		n->arg.str = tok_copy(p);
		n->arg.len = p->tok.len;
		p->state = S_ARG_END;
		return STEP_CONSUME;
	case '\\':
		p->state = S_QUOTED_ESC;
		return STEP_CONSUME;
	case '\r':
	case '\n':
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing '\"' before the end of the line");
	case '\0':
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "NUL byte in a quoted string");
	}
	if (c >= 0x80)
		p->tok_8bit = true;
	buf_append_char(&p->tok, (char)c);
	return STEP_CONSUME;
}

static enum step step_literal_header(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case S_LIT_SIZE:
		if (c >= '0' && c <= '9') {
			unsigned d = (unsigned)(c - '0');
			if (p->lit_size > (UINT64_MAX - d) / 10)
				p->lit_size = UINT64_MAX; /* far past every limit; stays there */
			else
				p->lit_size = p->lit_size * 10 + d;
			p->lit_digits++;
			return STEP_CONSUME;
		}
		if (p->lit_digits == 0 || (c != '+' && c != '}'))
			return fail(p, IMAP_PARSE_ERR_SYNTAX,
				    "Invalid literal: expected {size} or {size+}");
		p->lit_nonsync = c == '+';
		p->state = c == '+' ? S_LIT_CLOSE : S_LIT_EOL;
		return STEP_CONSUME;
	case S_LIT_CLOSE:
		if (c != '}')
			return fail(p, IMAP_PARSE_ERR_SYNTAX,
				    "Invalid literal: expected '}' after '+'");
		p->state = S_LIT_EOL;
		return STEP_CONSUME;
	case S_LIT_EOL:
		if (c == '\r') {
			p->state = S_LIT_LF;
			return STEP_CONSUME;
		}
		if (c == '\n')
			return literal_announced(p);
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "A literal's size must end the line");
	default: /* S_LIT_LF */
		if (c != '\n')
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "CR not followed by LF");
		return literal_announced(p);
	}
}

static enum step step_skip_line(struct imap_parser *p, unsigned char c)
{
	/* Watches for "{n+}" CRLF: its n bytes come next, and they may hold a line break. */
	if (c == '\n') {
		if (p->skip_lit == 3 || p->skip_lit == 4) {
			skip_nonsync_data(p, p->skip_num);
			return p->state == S_FATAL ? STEP_ERROR : STEP_CONSUME;
		}
		p->state = S_START;
		return STEP_CONSUME;
	}
	if (c == '{') {
		p->skip_lit = 1;
		p->skip_num = 0;
	} else if (p->skip_lit == 1 && c >= '0' && c <= '9') {
		unsigned d = (unsigned)(c - '0');
		if (p->skip_num > (UINT64_MAX - d) / 10)
			p->skip_num = UINT64_MAX;
		else
			p->skip_num = p->skip_num * 10 + d;
	} else if (p->skip_lit == 1 && c == '+') {
		p->skip_lit = 2;
	} else if (p->skip_lit == 2 && c == '}') {
		p->skip_lit = 3;
	} else if (p->skip_lit == 3 && c == '\r') {
		p->skip_lit = 4;
	} else {
		p->skip_lit = 0;
	}
	return STEP_CONSUME;
}

static enum step step(struct imap_parser *p, unsigned char c)
{
	switch (p->state) {
	case S_START:
		if (c == '\n') {
			p->line_used = 0;
			return STEP_CONSUME;
		}
		if (c == '\r') {
			p->state = S_START_CR;
			return STEP_CONSUME;
		}
		if (!is_tag_char(c))
			return fail_char(p, "a tag", c);
		command_begin(p);
		buf_reset(&p->tok);
		p->state = S_TAG;
		return STEP_AGAIN;
	case S_START_CR:
		if (c != '\n')
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "CR not followed by LF");
		p->line_used = 0;
		p->state = S_START;
		return STEP_CONSUME;
	case S_TAG:
		if (is_tag_char(c)) {
			buf_append_char(&p->tok, (char)c);
			return STEP_CONSUME;
		}
		if (c != ' ' && c != '\r' && c != '\n')
			return fail_char(p, "a tag", c);
		p->cmd->tag = tok_copy(p);
		p->state = S_NAME_START;
		if (c != ' ')
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing command name after the tag");
		return STEP_CONSUME;
	case S_NAME_START:
		if (c == ' ')
			return STEP_CONSUME;
		if (c == '\r' || c == '\n')
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing command name after the tag");
		buf_reset(&p->tok);
		p->state = S_NAME;
		return STEP_AGAIN;
	case S_NAME:
		if (is_name_char(c)) {
			buf_append_char(&p->tok, (char)c);
			return STEP_CONSUME;
		}
		if (c != ' ' && c != '\r' && c != '\n')
			return fail_char(p, "a command name", c);
		p->cmd->name = tok_copy(p);
		p->state = S_ARG_END;
		return STEP_AGAIN;
	case S_ARGS:
		return step_arg_start(p, c);
	case S_ARG_END:
		if (c == ' ' || c == '\r' || c == '\n' || c == ')') {
			p->state = S_ARGS;
			return STEP_AGAIN;
		}
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing space between arguments");
	case S_ATOM:
		return step_atom(p, c);
	case S_ATOM_BRACKET:
	case S_ATOM_BRACKET_QUOTED:
	case S_ATOM_BRACKET_ESC:
		return step_bracket(p, c);
	case S_QUOTED:
	case S_QUOTED_ESC:
		return step_quoted(p, c);
	case S_TILDE:
		if (c == '{') {
			buf_reset(&p->tok);
			p->lit8 = true;
			p->lit_size = 0;
			p->lit_digits = 0;
			p->lit_nonsync = false;
			p->state = S_LIT_SIZE;
			return STEP_CONSUME;
		}
		p->state = S_ATOM;
		return STEP_AGAIN;
	case S_LIT_SIZE:
	case S_LIT_CLOSE:
	case S_LIT_EOL:
	case S_LIT_LF:
		return step_literal_header(p, c);
	case S_EOL_LF:
		if (c != '\n')
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "CR not followed by LF");
		return command_finish(p);
	case S_SKIP_LINE:
		return step_skip_line(p, c);
	default:
		abort(); /* bulk states are handled by the caller */
	}
}

/* States whose bytes count toward max_line. */
static bool state_counts(enum state s)
{
	return s != S_LIT_DATA && s != S_LIT_WAIT && s != S_SKIP_LINE && s != S_SKIP_LITERAL &&
	       s != S_FATAL && s != S_DONE;
}

enum imap_parse_status imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
					size_t *consumed)
{
	const unsigned char *d = data;
	size_t i = 0;
	if (p->state == S_LIT_WAIT)
		abort(); /* the session must accept or refuse the literal first */
	if (p->state == S_DONE) {
		done_drop(p);
		p->state = S_START;
	}
	while (p->state != S_FATAL && i < len) {
		if (p->state == S_LIT_DATA) {
			size_t want = (size_t)p->lit_size - p->lit_got, n = len - i;
			if (n > want)
				n = want;
			const unsigned char *nul = p->lit8 ? NULL : memchr(d + i, '\0', n);
			if (nul) {
				size_t upto = (size_t)(nul - (d + i)) + 1;
				uint64_t rest = want - upto;
				fail(p, IMAP_PARSE_ERR_SYNTAX,
				     "NUL byte in a literal (only ~{n} literals may hold NUL)");
				p->skip_left = rest;
				p->state = S_SKIP_LITERAL;
				*consumed = i + upto;
				return IMAP_PARSE_ERROR;
			}
			memcpy(p->lit_data + p->lit_got, d + i, n);
			p->lit_got += n;
			i += n;
			if (p->lit_got == p->lit_size)
				literal_finish(p);
			continue;
		}
		if (p->state == S_SKIP_LITERAL) {
			uint64_t n = len - i;
			if (n > p->skip_left)
				n = p->skip_left;
			p->skip_left -= n;
			i += (size_t)n;
			if (p->skip_left == 0) {
				p->state = S_SKIP_LINE;
				p->skip_lit = 0;
			}
			continue;
		}
		bool counts = state_counts(p->state);
		if (counts && p->line_used >= p->lim.max_line) {
			fail(p, IMAP_PARSE_ERR_LIMIT, "Command line longer than %zu bytes",
			     p->lim.max_line);
			*consumed = i;
			return IMAP_PARSE_ERROR;
		}
		if (counts && p->lim.max_command && imap_parser_held(p) >= p->lim.max_command) {
			fail(p, IMAP_PARSE_ERR_LIMIT, "This command is larger than %zu bytes, its "
			     "literals included", p->lim.max_command);
			*consumed = i;
			return IMAP_PARSE_ERROR;
		}
		enum step r = step(p, d[i]);
		if (r == STEP_AGAIN)
			continue;
		if (r == STEP_ERROR_AGAIN) {
			*consumed = i;
			return IMAP_PARSE_ERROR;
		}
		i++;
		if (counts)
			p->line_used++;
		switch (r) {
		case STEP_DONE:
			*consumed = i;
			return IMAP_PARSE_DONE;
		case STEP_LITERAL:
			*consumed = i;
			return IMAP_PARSE_LITERAL;
		case STEP_ERROR:
			*consumed = i;
			return IMAP_PARSE_ERROR;
		default:
			break;
		}
	}
	*consumed = i;
	if (p->state == S_FATAL)
		return IMAP_PARSE_ERROR;
	return IMAP_PARSE_NEED_MORE;
}

/* ---- Argument helpers ----------------------------------------------------------------------- */

bool imap_arg_atom_equals(const struct imap_arg *a, const char *word)
{
	size_t n = strlen(word);
	return a->type == IMAP_ARG_ATOM && a->len == n && strncasecmp(a->str, word, n) == 0;
}

bool imap_arg_get_astring(const struct imap_arg *a, const char **s, size_t *len)
{
	if (a->type == IMAP_ARG_LIST || (a->type == IMAP_ARG_LITERAL && a->literal8))
		return false;
	*s = a->str;
	*len = a->len;
	return true;
}

bool imap_arg_get_string(const struct imap_arg *a, const char **s, size_t *len)
{
	if (a->type != IMAP_ARG_STRING && !(a->type == IMAP_ARG_LITERAL && !a->literal8))
		return false;
	*s = a->str;
	*len = a->len;
	return true;
}

bool imap_arg_get_list(const struct imap_arg *a, const struct imap_arg **list, size_t *count)
{
	if (a->type != IMAP_ARG_LIST)
		return false;
	*list = a->list;
	*count = a->count;
	return true;
}

static bool parse_digits(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	if (len == 0)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool imap_parse_number(const char *s, size_t len, uint32_t *out)
{
	uint64_t v;
	if (!parse_digits(s, len, UINT32_MAX, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

bool imap_parse_nz_number(const char *s, size_t len, uint32_t *out)
{
	return imap_parse_number(s, len, out) && *out != 0;
}

bool imap_parse_number64(const char *s, size_t len, uint64_t *out)
{
	return parse_digits(s, len, INT64_MAX, out);
}

bool imap_is_atom(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_strict_atom_char((unsigned char)s[i]))
			return false;
	return true;
}

/* ---- Modified UTF-7 (RFC 3501 5.1.3) -------------------------------------------------------- */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}


/* Controls are refused in both directions so that decode and encode stay exact inverses. */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f;
}

/* Decodes the base64 run s[0..len) (between "&" and "-") into out. */
static bool utf7_decode_run(const unsigned char *s, size_t len, struct buf *out, const char **err)
{
	uint32_t bits = 0, high = 0;
	int nbits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);
		if (v < 0) {
			*err = "Invalid character in a modified UTF-7 base64 run";
			return false;
		}
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t u = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		if (high) {
			if (u < 0xdc00 || u > 0xdfff) {
				*err = "Broken UTF-16 surrogate pair in modified UTF-7";
				return false;
			}
			utf8_append(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
			high = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			high = u;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			*err = "Broken UTF-16 surrogate pair in modified UTF-7";
			return false;
		} else if (u >= 0x20 && u < 0x7f) {
			*err = "Printable ASCII must not be base64-encoded in modified UTF-7";
			return false;
		} else if (is_control(u)) {
			*err = "Control character in a mailbox name";
			return false;
		} else {
			utf8_append(out, u);
		}
	}
	if (high) {
		*err = "Broken UTF-16 surrogate pair in modified UTF-7";
		return false;
	}
	if (nbits >= 6 || bits != 0) {
		*err = "Bad padding at the end of a modified UTF-7 base64 run";
		return false;
	}
	return true;
}

bool imap_utf7_decode(const char *s, size_t len, struct buf *out, const char **err)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t start = out->len;
	bool after_run = false;
	for (size_t i = 0; i < len;) {
		unsigned char c = u[i];
		if (c != '&') {
			if (c < 0x20 || c >= 0x7f) {
				*err = c >= 0x80 ? "8-bit byte in a modified UTF-7 mailbox name"
						 : "Control character in a mailbox name";
				goto fail;
			}
			buf_append_char(out, (char)c);
			after_run = false;
			i++;
			continue;
		}
		if (i + 1 < len && u[i + 1] == '-') {
			buf_append_char(out, '&');
			after_run = false;
			i += 2;
			continue;
		}
		if (after_run) {
			*err = "Two adjacent base64 runs in modified UTF-7 (\"-&\")";
			goto fail;
		}
		size_t j = i + 1;
		while (j < len && u[j] != '-')
			j++;
		if (j == len) {
			*err = "Unterminated base64 run in modified UTF-7 (missing '-')";
			goto fail;
		}
		if (!utf7_decode_run(u + i + 1, j - i - 1, out, err))
			goto fail;
		after_run = true;
		i = j + 1;
	}
	return true;
fail:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return false;
}

static void utf7_flush_run(struct buf *out, const uint16_t *units, size_t n)
{
	uint32_t bits = 0;
	int nbits = 0;
	buf_append_char(out, '&');
	for (size_t i = 0; i < n; i++) {
		bits = (bits << 16) | units[i];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			buf_append_char(out, b64chars[(bits >> nbits) & 0x3f]);
		}
		bits &= (1u << nbits) - 1;
	}
	if (nbits > 0)
		buf_append_char(out, b64chars[(bits << (6 - nbits)) & 0x3f]);
	buf_append_char(out, '-');
}

bool imap_utf7_encode(const char *s, size_t len, struct buf *out, const char **err)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t start = out->len;
	/* A whole run of non-printable characters is collected before it is written: split runs
	 * would give "-&", which strict decoders (ours too) reject. */
	uint16_t *units = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i <= len;) {
		uint32_t cp = 0;
		size_t k = 0;
		if (i < len) {
			k = utf8_decode_one(u + i, len - i, &cp);
			if (k == 0) {
				*err = "Mailbox name is not valid UTF-8";
				goto fail;
			}
			if (is_control(cp)) {
				*err = "Control character in a mailbox name";
				goto fail;
			}
		}
		if (i == len || (cp >= 0x20 && cp < 0x7f)) {
			if (n) {
				utf7_flush_run(out, units, n);
				n = 0;
			}
			if (i == len)
				break;
			if (cp == '&')
				buf_append(out, "&-", 2);
			else
				buf_append_char(out, (char)cp);
			i += k;
			continue;
		}
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 16;
			units = xrealloc(units, cap * sizeof *units);
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[n++] = (uint16_t)(0xd800 + (cp >> 10));
			units[n++] = (uint16_t)(0xdc00 + (cp & 0x3ff));
		} else {
			units[n++] = (uint16_t)cp;
		}
		i += k;
	}
	free(units);
	return true;
fail:
	free(units);
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return false;
}

bool imap_utf7_is_valid(const char *s, size_t len)
{
	struct buf tmp = BUF_INIT;
	const char *err;
	bool ok = imap_utf7_decode(s, len, &tmp, &err);
	buf_free(&tmp);
	return ok;
}
