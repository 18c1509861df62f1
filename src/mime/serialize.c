/* The stored form of a part tree (format described in mime.h). The reader trusts nothing: every
 * length is checked against the record, and the tree shape against the counts, so a corrupt
 * record yields NULL (and a re-parse), never a wild read. */
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "mime/mime_internal.h"

#define MAX_SERIAL_PARAMS 4096
#define MAX_SERIAL_DEPTH 1000

static void put_varint(struct buf *out, uint64_t v)
{
	char b[10];
	size_t n = 0;
	do {
		unsigned char c = v & 0x7f;
		v >>= 7;
		if (v)
			c |= 0x80;
		b[n++] = (char)c;
	} while (v);
	buf_append(out, b, n);
}

static void put_str(struct buf *out, const char *s)
{
	if (!s) {
		put_varint(out, 0);
		return;
	}
	size_t len = strlen(s);
	put_varint(out, (uint64_t)len + 1);
	buf_append(out, s, len);
}

static void put_params(struct buf *out, const struct mime_param *ps, size_t n)
{
	put_varint(out, n);
	for (size_t i = 0; i < n; i++) {
		put_str(out, ps[i].name);
		put_str(out, ps[i].value);
	}
}

void mime_message_serialize(const struct mime_message *m, struct buf *out)
{
	buf_append_char(out, (char)MIME_SERIAL_VERSION);
	put_varint(out, m->size);
	put_varint(out, m->nparts);
	for (uint32_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		put_varint(out, p->flags);
		put_varint(out, p->nchildren);
		put_varint(out, p->header_offset);
		put_varint(out, p->header_size);
		put_varint(out, p->body_size);
		put_varint(out, p->body_lines);
		put_varint(out, p->cte);
		put_str(out, p->type);
		put_str(out, p->subtype);
		put_params(out, p->params, p->nparams);
		put_str(out, p->encoding);
		put_str(out, p->id);
		put_str(out, p->description);
		put_str(out, p->md5);
		put_str(out, p->disposition);
		put_params(out, p->disp_params, p->ndisp_params);
		put_str(out, p->language);
		put_str(out, p->location);
		if (p->flags & MIME_PART_ENVELOPE) {
			for (int e = 0; e < MIME_ENV_COUNT; e++)
				put_str(out, p->env[e]);
		}
	}
}

struct reader {
	const unsigned char *p;
	size_t len, pos;
	bool bad;
	struct arena *arena;
};

static uint64_t get_varint(struct reader *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->pos >= r->len) {
			r->bad = true;
			return 0;
		}
		unsigned char c = r->p[r->pos++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static size_t get_size(struct reader *r)
{
	uint64_t v = get_varint(r);
	if (v > (uint64_t)SIZE_MAX / 2) {
		r->bad = true;
		return 0;
	}
	return (size_t)v;
}

static const char *get_str(struct reader *r)
{
	uint64_t n = get_varint(r);
	if (r->bad || n == 0)
		return NULL;
	n--;
	if (n > r->len - r->pos) {
		r->bad = true;
		return NULL;
	}
	/* NUL inside would make the string shorter than recorded: not our writing. */
	if (memchr(r->p + r->pos, '\0', (size_t)n)) {
		r->bad = true;
		return NULL;
	}
	const char *s = arena_strndup(r->arena, (const char *)r->p + r->pos, (size_t)n);
	r->pos += (size_t)n;
	return s;
}

static const struct mime_param *get_params(struct reader *r, size_t *count)
{
	uint64_t n = get_varint(r);
	*count = 0;
	/* Each parameter takes at least two bytes, which bounds n by the record. */
	if (r->bad || n > MAX_SERIAL_PARAMS || n * 2 > r->len - r->pos) {
		r->bad = n != 0 || r->bad;
		return NULL;
	}
	if (n == 0)
		return NULL;
	struct mime_param *ps = arena_zalloc(r->arena, (size_t)n * sizeof *ps);
	for (size_t i = 0; i < n && !r->bad; i++) {
		ps[i].name = get_str(r);
		ps[i].value = get_str(r);
		if (!ps[i].name || !ps[i].value)
			r->bad = true;
	}
	*count = (size_t)n;
	return ps;
}

/* Rebuilds parent/child links from the depth-first order and the child counts. */
static bool link_tree(struct mime_message *m)
{
	uint32_t *stack = xmalloc((size_t)m->nparts * sizeof *stack);
	uint32_t *left = xmalloc((size_t)m->nparts * sizeof *left);
	uint32_t *last = xmalloc((size_t)m->nparts * sizeof *last);
	size_t depth = 0;
	bool ok = true;
	for (uint32_t i = 0; i < m->nparts && ok; i++) {
		struct mime_part *p = &m->parts[i];
		p->first_child = p->next_sibling = MIME_NONE;
		last[i] = MIME_NONE;
		if (i == 0) {
			p->parent = MIME_NONE;
		} else {
			while (depth > 0 && left[stack[depth - 1]] == 0)
				depth--;
			if (depth == 0) {
				ok = false;
				break;
			}
			uint32_t parent = stack[depth - 1];
			p->parent = parent;
			left[parent]--;
			if (last[parent] == MIME_NONE)
				m->parts[parent].first_child = i;
			else
				m->parts[last[parent]].next_sibling = i;
			last[parent] = i;
		}
		left[i] = p->nchildren;
		if (p->nchildren) {
			if (depth >= MAX_SERIAL_DEPTH) {
				ok = false;
				break;
			}
			stack[depth++] = i;
		}
	}
	/* Every promised child must be there, and none more. */
	for (size_t d = 0; ok && d < depth; d++) {
		if (left[stack[d]] != 0)
			ok = false;
	}
	free(stack);
	free(left);
	free(last);
	return ok;
}

struct mime_message *mime_message_deserialize(const char *data, size_t len)
{
	if (!data || len < 1 || (unsigned char)data[0] != MIME_SERIAL_VERSION)
		return NULL;
	struct mime_message *m = xcalloc(1, sizeof *m);
	m->arena = arena_new(MIME_ARENA_CHUNK, MIME_ARENA_CHUNK);
	struct reader r = { (const unsigned char *)data, len, 1, false, m->arena };
	m->size = get_size(&r);
	uint64_t n = get_varint(&r);
	/* A part takes at least 20 bytes; more parts than that is not a record of ours. */
	if (r.bad || n == 0 || n > UINT32_MAX - 1 || n > (r.len - r.pos) / 20 + 1) {
		mime_message_free(&m);
		return NULL;
	}
	m->parts = xcalloc((size_t)n, sizeof *m->parts);
	m->nparts = (uint32_t)n;
	for (uint32_t i = 0; i < m->nparts && !r.bad; i++) {
		struct mime_part *p = &m->parts[i];
		p->flags = (unsigned)get_varint(&r);
		p->nchildren = (uint32_t)get_varint(&r);
		p->header_offset = get_size(&r);
		p->header_size = get_size(&r);
		p->body_size = get_size(&r);
		p->body_lines = get_size(&r);
		uint64_t cte = get_varint(&r);
		p->cte = cte <= MIME_CTE_UNKNOWN ? (enum mime_cte)cte : MIME_CTE_UNKNOWN;
		p->type = get_str(&r);
		p->subtype = get_str(&r);
		p->params = get_params(&r, &p->nparams);
		p->encoding = get_str(&r);
		p->id = get_str(&r);
		p->description = get_str(&r);
		p->md5 = get_str(&r);
		p->disposition = get_str(&r);
		p->disp_params = get_params(&r, &p->ndisp_params);
		p->language = get_str(&r);
		p->location = get_str(&r);
		if (p->flags & MIME_PART_ENVELOPE) {
			for (int e = 0; e < MIME_ENV_COUNT; e++)
				p->env[e] = get_str(&r);
		}
		if (p->header_offset > m->size || p->header_size > m->size - p->header_offset ||
		    p->body_size > m->size - p->header_offset - p->header_size || !p->type ||
		    !p->subtype || p->nchildren > n)
			r.bad = true;
		p->body_offset = p->header_offset + p->header_size;
		/* Children may only hang off multipart and message parts, as the parser makes them;
		 * the renderer and section lookup rely on it. */
		if (p->nchildren && !(p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)))
			r.bad = true;
		if ((p->flags & MIME_PART_MESSAGE) && p->nchildren > 1)
			r.bad = true;
		if ((p->flags & MIME_PART_MULTIPART) && (p->flags & MIME_PART_MESSAGE))
			r.bad = true;
	}
	if (r.bad || r.pos != r.len || !(m->parts[0].flags & MIME_PART_ENVELOPE) || !link_tree(m)) {
		mime_message_free(&m);
		return NULL;
	}
	/* The child of a message part is a message: ENVELOPE rendering relies on it. */
	for (uint32_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if ((p->flags & MIME_PART_MESSAGE) && p->first_child != MIME_NONE &&
		    !(m->parts[p->first_child].flags & MIME_PART_ENVELOPE)) {
			mime_message_free(&m);
			return NULL;
		}
	}
	return m;
}
