/* FETCH BODY[section] (RFC 9051 6.4.5): section text to a part, and a part to the bytes. */
#include <string.h>

#include "mime/mime_internal.h"

static bool is_astring_char(unsigned char c)
{
	/* ATOM-CHAR plus ']' (RFC 9051 ASTRING-CHAR), minus the list delimiters. */
	return c > ' ' && c < 0x7f && !strchr("(){%*\"\\", c);
}

static bool parse_field_list(const char *s, size_t len, size_t pos, struct mime_section *sec)
{
	if (pos >= len || s[pos] != ' ')
		return false;
	pos++;
	if (pos >= len || s[pos] != '(')
		return false;
	pos++;
	sec->nfields = 0;
	for (;;) {
		if (pos < len && s[pos] == ')' && sec->nfields > 0) {
			pos++;
			break;
		}
		if (sec->nfields > 0) {
			if (pos >= len || s[pos] != ' ')
				return false;
			pos++;
		}
		if (sec->nfields == MIME_SECTION_MAX_FIELDS || pos >= len)
			return false;
		size_t start, flen;
		if (s[pos] == '"') {
			start = ++pos;
			while (pos < len && s[pos] != '"') {
				/* Field names need no escapes: refuse, not mismatch. */
				if (s[pos] == '\\' || s[pos] == '\r' || s[pos] == '\n')
					return false;
				pos++;
			}
			if (pos >= len)
				return false;
			flen = pos - start;
			pos++;
		} else {
			start = pos;
			while (pos < len && is_astring_char((unsigned char)s[pos]))
				pos++;
			flen = pos - start;
		}
		if (flen == 0)
			return false;
		sec->fields[sec->nfields].name = s + start;
		sec->fields[sec->nfields].len = flen;
		sec->nfields++;
	}
	return pos == len;
}

bool mime_section_parse(const char *s, size_t len, struct mime_section *sec)
{
	size_t pos = 0;
	sec->depth = 0;
	sec->nfields = 0;
	sec->kind = MIME_SECTION_ALL;
	while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
		if (s[pos] == '0')
			return false; /* nz-number */
		uint64_t n = 0;
		while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
			n = n * 10 + (uint64_t)(s[pos] - '0');
			if (n > UINT32_MAX - 1)
				return false;
			pos++;
		}
		if (sec->depth == MIME_SECTION_MAX_DEPTH)
			return false;
		sec->path[sec->depth++] = (uint32_t)n;
		if (pos == len)
			return true;
		if (s[pos] != '.')
			return false;
		pos++;
		if (pos == len)
			return false;
	}
	const char *kw = s + pos;
	size_t rest = len - pos;
	if (rest == 0)
		return sec->depth == 0;
	if (mime_ascii_ieq(kw, rest, "HEADER")) {
		sec->kind = MIME_SECTION_HEADER;
		return true;
	}
	if (mime_ascii_ieq(kw, rest, "TEXT")) {
		sec->kind = MIME_SECTION_TEXT;
		return true;
	}
	if (mime_ascii_ieq(kw, rest, "MIME")) {
		sec->kind = MIME_SECTION_MIME;
		return sec->depth > 0;
	}
	if (rest > 17 && mime_ascii_ieq(kw, 17, "HEADER.FIELDS.NOT")) {
		sec->kind = MIME_SECTION_FIELDS_NOT;
		return parse_field_list(s, len, pos + 17, sec);
	}
	if (rest > 13 && mime_ascii_ieq(kw, 13, "HEADER.FIELDS")) {
		sec->kind = MIME_SECTION_FIELDS;
		return parse_field_list(s, len, pos + 13, sec);
	}
	return false;
}

static uint32_t nth_child(const struct mime_message *m, uint32_t idx, uint32_t n)
{
	uint32_t c = m->parts[idx].first_child;
	while (c != MIME_NONE && --n > 0)
		c = m->parts[c].next_sibling;
	return c;
}

/* Part n of a message node: its n-th body part if multipart, else (n == 1) its body. */
static uint32_t message_part(const struct mime_message *m, uint32_t msg, uint32_t n)
{
	if (m->parts[msg].flags & MIME_PART_MULTIPART)
		return nth_child(m, msg, n);
	return n == 1 ? msg : MIME_NONE;
}

uint32_t mime_section_part(const struct mime_message *m, const struct mime_section *sec)
{
	if (m->nparts == 0)
		return MIME_NONE;
	uint32_t cur = 0;
	for (size_t i = 0; i < sec->depth; i++) {
		uint32_t n = sec->path[i];
		const struct mime_part *p = &m->parts[cur];
		if (i == 0)
			cur = message_part(m, 0, n);
		else if (p->flags & MIME_PART_MULTIPART)
			cur = nth_child(m, cur, n);
		else if ((p->flags & MIME_PART_MESSAGE) && p->first_child != MIME_NONE)
			cur = message_part(m, p->first_child, n);
		else
			cur = MIME_NONE;
		if (cur == MIME_NONE)
			return MIME_NONE;
	}
	return cur;
}

static bool field_listed(const struct mime_section *sec, const struct mime_field *f)
{
	for (size_t i = 0; i < sec->nfields; i++) {
		if (sec->fields[i].len != f->name_len)
			continue;
		size_t k = 0;
		for (; k < f->name_len; k++) {
			unsigned char a = (unsigned char)f->name[k],
				      b = (unsigned char)sec->fields[i].name[k];
			if (a >= 'A' && a <= 'Z')
				a = (unsigned char)(a + 32);
			if (b >= 'A' && b <= 'Z')
				b = (unsigned char)(b + 32);
			if (a != b)
				break;
		}
		if (k == f->name_len)
			return true;
	}
	return false;
}

static void filter_fields(const char *hdr, size_t len, const struct mime_section *sec,
			  struct buf *out)
{
	struct mime_header_iter it;
	struct mime_field f;
	bool want = sec->kind == MIME_SECTION_FIELDS;
	mime_header_iter_init(&it, hdr, len, 0);
	while (mime_header_next(&it, &f)) {
		if (field_listed(sec, &f) != want)
			continue;
		/* IMAP speaks CRLF; a field at the very end may have no line end at all. */
		const char *raw = hdr + f.offset;
		mime_normalize_crlf(raw, f.size, out);
		if (f.size == 0 || raw[f.size - 1] != '\n')
			buf_append(out, "\r\n", 2);
	}
	buf_append(out, "\r\n", 2);
}

enum mime_fetch_kind mime_section_fetch(const struct mime_message *m, const char *msg, size_t len,
					const struct mime_section *sec, struct mime_fetch *res)
{
	res->kind = MIME_FETCH_NONE;
	res->offset = res->size = 0;
	res->part = mime_section_part(m, sec);
	if (res->part == MIME_NONE)
		return res->kind;
	const struct mime_part *p = &m->parts[res->part];
	uint32_t msg_idx = MIME_NONE;
	if (sec->depth == 0)
		msg_idx = 0;
	else if ((p->flags & MIME_PART_MESSAGE) && p->first_child != MIME_NONE)
		msg_idx = p->first_child;

	switch (sec->kind) {
	case MIME_SECTION_ALL:
		res->kind = MIME_FETCH_RANGE;
		if (sec->depth == 0) {
			res->offset = 0;
			res->size = m->size;
		} else {
			res->offset = p->body_offset;
			res->size = p->body_size;
		}
		break;
	case MIME_SECTION_MIME:
		res->kind = MIME_FETCH_RANGE;
		res->offset = p->header_offset;
		res->size = p->header_size;
		break;
	case MIME_SECTION_HEADER:
	case MIME_SECTION_TEXT:
		if (msg_idx == MIME_NONE)
			break;
		res->kind = MIME_FETCH_RANGE;
		if (sec->kind == MIME_SECTION_HEADER) {
			res->offset = m->parts[msg_idx].header_offset;
			res->size = m->parts[msg_idx].header_size;
		} else {
			res->offset = m->parts[msg_idx].body_offset;
			res->size = m->parts[msg_idx].body_size;
		}
		break;
	case MIME_SECTION_FIELDS:
	case MIME_SECTION_FIELDS_NOT:
		if (msg_idx == MIME_NONE || !res->data)
			break;
		res->kind = MIME_FETCH_DATA;
		{
			const struct mime_part *mp = &m->parts[msg_idx];
			size_t off = mp->header_offset, size = mp->header_size;
			/* A stored form may not match these bytes: never read outside them. */
			if (off > len || size > len - off)
				size = off > len ? 0 : len - off;
			filter_fields(msg + (off < len ? off : len), size, sec, res->data);
		}
		break;
	}
	/* The same guard for ranges: a caller must never be sent outside the message. */
	if (res->kind == MIME_FETCH_RANGE && (res->offset > len || res->size > len - res->offset)) {
		res->offset = res->offset > len ? len : res->offset;
		res->size = len - res->offset;
	}
	return res->kind;
}
