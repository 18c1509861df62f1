/* The part tree of a message (RFC 2045, 2046 5.1 multipart, 2046 5.2 message/rfc822).
 *
 * One forward pass over the lines of the message: each line is looked at once, by the innermost
 * entity being parsed, and compared with the boundaries of the enclosing multiparts (a stack no
 * deeper than max_depth). Line counts come from a running count of LFs, so nothing is scanned
 * twice and hostile nesting costs no more than depth x size in boundary comparisons. */
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "mime/mime_internal.h"

#define MAX_PARAMS 64
#define DEPTH_CAP 1000 /* recursion bound, whatever the configured limit says */

struct boundary {
	const char *s;
	size_t len;
};

struct parser {
	const char *msg;
	size_t len;
	struct mime_message *m;
	uint32_t cap;
	uint32_t *last_child;
	struct mime_limits lim;
	struct boundary *stack;
	unsigned nstack;
	size_t pos; /* start of the current line */
	size_t lf;  /* LF characters before pos */
	/* Start of the region (body, preamble, epilogue or header) in which the last boundary line
	 * was found. The line end before a boundary belongs to the boundary only if that region
	 * has a line before it; otherwise it ends a header that is already counted. */
	size_t region;
	bool parts_full;
};

void mime_limits_default(struct mime_limits *lim)
{
	lim->max_depth = MIME_DEFAULT_MAX_DEPTH;
	lim->max_parts = MIME_DEFAULT_MAX_PARTS;
	lim->max_header_fields = MIME_DEFAULT_MAX_HEADER_FIELDS;
	lim->max_field_size = MIME_DEFAULT_MAX_FIELD_SIZE;
}

static void advance_line(struct parser *p)
{
	const char *nl = memchr(p->msg + p->pos, '\n', p->len - p->pos);
	if (nl) {
		p->pos = (size_t)(nl - p->msg) + 1;
		p->lf++;
	} else {
		p->pos = p->len;
	}
}

/* Whether the line at pos starts with "--" and a boundary of the stack. RFC 2046 5.1.1: the
 * boundary need only begin the line. When several match (nested boundaries that are prefixes of
 * each other), the longest wins; on a tie, the innermost. */
static bool boundary_at(const struct parser *p, int *level, bool *close)
{
	if (p->nstack == 0 || p->len - p->pos < 2 || p->msg[p->pos] != '-' ||
	    p->msg[p->pos + 1] != '-')
		return false;
	const char *line = p->msg + p->pos + 2;
	size_t avail = p->len - p->pos - 2;
	int best = -1;
	for (unsigned i = 0; i < p->nstack; i++) {
		const struct boundary *b = &p->stack[i];
		if (b->len <= avail && memcmp(line, b->s, b->len) == 0 &&
		    (best < 0 || b->len >= p->stack[best].len))
			best = (int)i;
	}
	if (best < 0)
		return false;
	size_t bl = p->stack[best].len;
	*level = best;
	*close = avail >= bl + 2 && line[bl] == '-' && line[bl + 1] == '-';
	return true;
}

/* Moves to the next line that is a boundary line; false at the end of the message. */
static bool scan_to_boundary(struct parser *p, int *level, bool *close)
{
	p->region = p->pos;
	if (p->nstack == 0) {
		while (p->pos < p->len)
			advance_line(p);
		return false;
	}
	while (p->pos < p->len) {
		if (boundary_at(p, level, close))
			return true;
		advance_line(p);
	}
	return false;
}

static uint32_t add_part(struct parser *p, uint32_t parent)
{
	struct mime_message *m = p->m;
	if (m->nparts >= p->lim.max_parts) {
		p->parts_full = true;
		return MIME_NONE;
	}
	if (m->nparts == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		m->parts = xrealloc(m->parts, p->cap * sizeof *m->parts);
		p->last_child = xrealloc(p->last_child, p->cap * sizeof *p->last_child);
	}
	uint32_t idx = m->nparts++;
	struct mime_part *part = &m->parts[idx];
	memset(part, 0, sizeof *part);
	part->parent = parent;
	part->first_child = part->next_sibling = MIME_NONE;
	p->last_child[idx] = MIME_NONE;
	if (parent != MIME_NONE) {
		struct mime_part *par = &m->parts[parent];
		if (p->last_child[parent] == MIME_NONE)
			par->first_child = idx;
		else
			m->parts[p->last_child[parent]].next_sibling = idx;
		p->last_child[parent] = idx;
		par->nchildren++;
	}
	return idx;
}

static const char *unfold_dup(struct arena *a, const char *v, size_t len)
{
	struct buf b = BUF_INIT;
	mime_header_unfold(v, len, &b);
	const char *s = arena_strndup(a, b.data ? b.data : "", b.len);
	buf_free(&b);
	return s;
}

static const char *const env_names[MIME_ENV_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to",
	"message-id",
};

static void set_content_type_flags(struct mime_part *part)
{
	size_t tl = strlen(part->type), sl = strlen(part->subtype);
	part->flags &= ~(unsigned)(MIME_PART_MULTIPART | MIME_PART_MESSAGE | MIME_PART_TEXT);
	if (mime_ascii_ieq(part->type, tl, "multipart"))
		part->flags |= MIME_PART_MULTIPART;
	else if (mime_ascii_ieq(part->type, tl, "text"))
		part->flags |= MIME_PART_TEXT;
	else if (mime_ascii_ieq(part->type, tl, "message") &&
		 (mime_ascii_ieq(part->subtype, sl, "rfc822") ||
		  mime_ascii_ieq(part->subtype, sl, "global")))
		part->flags |= MIME_PART_MESSAGE;
}

/* Reads the fields of one header block into the part: the Content-* fields and, for messages,
 * the envelope fields. The first occurrence of each field counts. */
static void parse_fields(struct parser *p, uint32_t idx, size_t hdr_len, bool in_digest)
{
	struct arena *a = p->m->arena;
	struct mime_part *part = &p->m->parts[idx];
	bool envelope = (part->flags & MIME_PART_ENVELOPE) != 0;
	bool seen_type = false, seen_cte = false, seen_disp = false;

	part->type = in_digest ? "message" : "text";
	part->subtype = in_digest ? "rfc822" : "plain";
	part->cte = MIME_CTE_7BIT;

	struct mime_header_iter it;
	struct mime_field f;
	mime_header_iter_init(&it, p->msg + part->header_offset, hdr_len, p->lim.max_header_fields);
	while (mime_header_next(&it, &f)) {
		size_t vl =
		    f.value_len < p->lim.max_field_size ? f.value_len : p->lim.max_field_size;
		const char *n = f.name;
		size_t nl = f.name_len;
		if (envelope && nl <= 11) {
			for (int e = 0; e < MIME_ENV_COUNT; e++) {
				if (!part->env[e] && mime_ascii_ieq(n, nl, env_names[e])) {
					part->env[e] = unfold_dup(a, f.value, vl);
					break;
				}
			}
		}
		if (nl < 10 || !mime_ascii_ieq(n, 8, "content-"))
			continue;
		n += 8;
		nl -= 8;
		if (mime_ascii_ieq(n, nl, "type") && !seen_type) {
			seen_type = true;
			struct buf v = BUF_INIT;
			mime_header_unfold(f.value, vl, &v);
			const char *t, *st;
			const struct mime_param *pr;
			size_t np;
			if (mime_parse_content_field(a, v.data ? v.data : "", v.len, true, &t, &st,
						     &pr, &np, MAX_PARAMS)) {
				part->type = t;
				part->subtype = st;
				part->params = pr;
				part->nparams = np;
			}
			buf_free(&v);
		} else if (mime_ascii_ieq(n, nl, "transfer-encoding") && !seen_cte) {
			seen_cte = true;
			struct buf v = BUF_INIT;
			mime_header_unfold(f.value, vl, &v);
			struct mime_lexer lx = { v.data ? v.data : "", v.len, 0 };
			mime_lex_skip_cfws(&lx, NULL);
			size_t ts = lx.pos;
			while (lx.pos < lx.len && mime_is_token_char((unsigned char)lx.s[lx.pos]))
				lx.pos++;
			size_t tl = lx.pos - ts;
			mime_lex_skip_cfws(&lx, NULL);
			/* Not one token (Dovecot's "?invalid" case): as if absent, 7bit. */
			if (tl > 0 && lx.pos == lx.len) {
				part->encoding = arena_strndup(a, lx.s + ts, tl);
				part->cte = mime_cte_from_name(lx.s + ts, tl);
			}
			buf_free(&v);
		} else if (mime_ascii_ieq(n, nl, "disposition") && !seen_disp) {
			seen_disp = true;
			struct buf v = BUF_INIT;
			mime_header_unfold(f.value, vl, &v);
			const char *t;
			const struct mime_param *pr;
			size_t np;
			if (mime_parse_content_field(a, v.data ? v.data : "", v.len, false, &t,
						     NULL, &pr, &np, MAX_PARAMS)) {
				part->disposition = t;
				part->disp_params = pr;
				part->ndisp_params = np;
			}
			buf_free(&v);
		} else if (mime_ascii_ieq(n, nl, "id") && !part->id) {
			part->id = unfold_dup(a, f.value, vl);
		} else if (mime_ascii_ieq(n, nl, "description") && !part->description) {
			part->description = unfold_dup(a, f.value, vl);
		} else if (mime_ascii_ieq(n, nl, "md5") && !part->md5) {
			part->md5 = unfold_dup(a, f.value, vl);
		} else if (mime_ascii_ieq(n, nl, "language") && !part->language) {
			part->language = unfold_dup(a, f.value, vl);
		} else if (mime_ascii_ieq(n, nl, "location") && !part->location) {
			part->location = unfold_dup(a, f.value, vl);
		}
	}
	set_content_type_flags(part);
}

static bool part_boundary(const struct mime_part *part, struct boundary *b)
{
	for (size_t i = 0; i < part->nparams; i++) {
		const char *n = part->params[i].name;
		if (!mime_ascii_ieq(n, strlen(n), "boundary"))
			continue;
		const char *v = part->params[i].value;
		size_t len = strlen(v);
		if (len == 0 || len > MIME_BOUNDARY_MAX || strpbrk(v, "\r\n"))
			return false;
		b->s = v;
		b->len = len;
		return true;
	}
	return false;
}

/* Parses the entity (header + body) whose header starts at p->pos and which ends at the next
 * boundary line of an enclosing multipart, or at the end of the message. Returns the stack level
 * of that boundary (-1 at the end), with p->pos at the start of its line. */
static int parse_entity(struct parser *p, uint32_t idx, unsigned depth, bool in_digest,
			bool *close)
{
	struct mime_part *part = &p->m->parts[idx];
	part->header_offset = p->pos;
	int level = -1;
	bool boundary_in_header = false;
	size_t hdr_end = p->len;
	while (p->pos < p->len) {
		if (boundary_at(p, &level, close)) {
			/* A boundary before the empty line: the header ends, there is no body, and
			 * the line end before the boundary belongs to the boundary. */
			boundary_in_header = true;
			p->region = part->header_offset;
			hdr_end = p->pos;
			if (hdr_end > part->header_offset && p->msg[hdr_end - 1] == '\n') {
				hdr_end--;
				if (hdr_end > part->header_offset && p->msg[hdr_end - 1] == '\r')
					hdr_end--;
			}
			break;
		}
		bool empty = p->msg[p->pos] == '\n' ||
			     (p->msg[p->pos] == '\r' && p->pos + 1 < p->len &&
			      p->msg[p->pos + 1] == '\n');
		advance_line(p);
		if (empty) {
			hdr_end = p->pos;
			break;
		}
	}
	if (!boundary_in_header && p->pos >= p->len)
		hdr_end = p->len;
	part->header_size = hdr_end - part->header_offset;
	parse_fields(p, idx, part->header_size, in_digest);
	part = &p->m->parts[idx];

	size_t body_start = hdr_end;
	part->body_offset = body_start;
	if (boundary_in_header) {
		part->body_size = 0;
		part->body_lines = 0;
		return level;
	}
	size_t lf_start = p->lf;
	unsigned flags = part->flags;
	struct boundary b;
	bool deeper = depth < p->lim.max_depth && depth < DEPTH_CAP;
	bool found;

	if ((flags & MIME_PART_MULTIPART) && part_boundary(part, &b) && deeper && !p->parts_full) {
		bool digest = mime_ascii_ieq(part->subtype, strlen(part->subtype), "digest");
		unsigned my = p->nstack;
		p->stack[p->nstack++] = b;
		found = scan_to_boundary(p, &level, close); /* the preamble */
		for (;;) {
			if (!found) {
				level = -1; /* no close delimiter before the end: tolerated */
				break;
			}
			if (level != (int)my)
				break; /* an enclosing boundary: our close delimiter is missing */
			advance_line(p);
			if (*close) {
				p->nstack = my;
				found = scan_to_boundary(p, &level, close); /* the epilogue */
				if (!found)
					level = -1;
				break;
			}
			uint32_t child = p->parts_full ? MIME_NONE : add_part(p, idx);
			if (child == MIME_NONE) {
				/* Out of parts: the rest of this multipart is opaque. */
				p->m->parts[idx].flags |= MIME_PART_TRUNCATED;
				found = scan_to_boundary(p, &level, close);
				continue;
			}
			level = parse_entity(p, child, depth + 1, digest, close);
			found = level >= 0;
		}
		p->nstack = my;
	} else if ((flags & MIME_PART_MESSAGE) && deeper && !p->parts_full &&
		   p->pos < p->len) {
		uint32_t child = add_part(p, idx);
		if (child != MIME_NONE) {
			p->m->parts[child].flags |= MIME_PART_ENVELOPE;
			level = parse_entity(p, child, depth + 1, false, close);
		} else {
			p->m->parts[idx].flags |= MIME_PART_TRUNCATED;
			level = scan_to_boundary(p, &level, close) ? level : -1;
		}
	} else {
		if ((flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) &&
		    (!deeper || p->parts_full))
			p->m->parts[idx].flags |= MIME_PART_TRUNCATED;
		level = scan_to_boundary(p, &level, close) ? level : -1;
	}

	part = &p->m->parts[idx];
	size_t end = p->pos, lf_end = p->lf;
	if (level >= 0 && end > p->region && p->msg[end - 1] == '\n') {
		end--;
		lf_end--;
		if (end > body_start && p->msg[end - 1] == '\r')
			end--;
	}
	part->body_size = end - body_start;
	part->body_lines = lf_end - lf_start;
	return level;
}

struct mime_message *mime_message_parse(const char *msg, size_t len,
					const struct mime_limits *lim)
{
	struct parser p;
	memset(&p, 0, sizeof p);
	if (lim)
		p.lim = *lim;
	else
		mime_limits_default(&p.lim);
	if (p.lim.max_parts == 0)
		p.lim.max_parts = 1;
	if (p.lim.max_field_size == 0)
		p.lim.max_field_size = MIME_DEFAULT_MAX_FIELD_SIZE;
	unsigned stack_size = p.lim.max_depth < DEPTH_CAP ? p.lim.max_depth + 1 : DEPTH_CAP + 1;
	p.stack = xmalloc(stack_size * sizeof *p.stack);
	p.msg = msg ? msg : "";
	p.len = msg ? len : 0;
	p.m = xcalloc(1, sizeof *p.m);
	p.m->arena = arena_new(MIME_ARENA_CHUNK, MIME_ARENA_CHUNK);
	p.m->size = p.len;
	uint32_t root = add_part(&p, MIME_NONE);
	p.m->parts[root].flags = MIME_PART_ENVELOPE;
	bool close;
	parse_entity(&p, root, 0, false, &close);
	free(p.stack);
	free(p.last_child);
	return p.m;
}

void mime_message_free(struct mime_message **mp)
{
	struct mime_message *m = *mp;
	if (!m)
		return;
	arena_free(m->arena);
	free(m->parts);
	free(m);
	*mp = NULL;
}

const char *mime_part_charset(const struct mime_part *part)
{
	for (size_t i = 0; i < part->nparams; i++) {
		const char *n = part->params[i].name;
		if (mime_ascii_ieq(n, strlen(n), "charset"))
			return part->params[i].value;
	}
	return NULL;
}

bool mime_part_param(const struct mime_part *part, bool disposition, const char *name,
		     struct buf *out)
{
	const struct mime_param *ps = disposition ? part->disp_params : part->params;
	size_t n = disposition ? part->ndisp_params : part->nparams;
	size_t want = strlen(name);
	const struct mime_param *plain = NULL, *ext = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *pn = ps[i].name;
		size_t pl = strlen(pn);
		if (!plain && mime_ascii_ieq(pn, pl, name))
			plain = &ps[i];
		else if (!ext && pl == want + 1 && pn[want] == '*' &&
			 mime_ascii_ieq(pn, want, name))
			ext = &ps[i];
	}
	/* The extended form is the precise one when both are given (RFC 2231, RFC 6266). */
	if (ext) {
		mime_rfc2231_decode(ext->value, strlen(ext->value), out);
		return true;
	}
	if (plain) {
		mime_header_decode(plain->value, strlen(plain->value), out);
		return true;
	}
	return false;
}
