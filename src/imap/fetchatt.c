/* FETCH attributes and modifiers (RFC 9051 6.4.5, RFC 3516 BINARY, RFC 7162 CONDSTORE/QRESYNC)
 * and body sections. */
#include "imap/parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"

static const struct {
	const char *name;
	unsigned items;
} simple_items[] = {
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "UID", IMAP_FETCH_UID },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "RFC822", IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "MODSEQ", IMAP_FETCH_MODSEQ },
};

/* RFC 9051 6.4.5: macros stand alone, never inside a list. */
static const struct {
	const char *name;
	unsigned items;
} macros[] = {
	{ "ALL", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE |
			 IMAP_FETCH_ENVELOPE },
	{ "FAST", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE },
	{ "FULL", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE |
			  IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY },
};

static const struct {
	const char *name;
	enum imap_fetch_body_kind kind;
	bool peek;
} body_prefixes[] = {
	{ "BODY", IMAP_FETCH_BODY_SECTION, false },
	{ "BODY.PEEK", IMAP_FETCH_BODY_SECTION, true },
	{ "BINARY", IMAP_FETCH_BINARY, false },
	{ "BINARY.PEEK", IMAP_FETCH_BINARY, true },
	{ "BINARY.SIZE", IMAP_FETCH_BINARY_SIZE, true },
};

static bool word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

void imap_section_free(struct imap_section *s)
{
	for (size_t i = 0; i < s->nfields; i++)
		free(s->fields[i]);
	free(s->fields);
	memset(s, 0, sizeof *s);
}

/* RFC 5322 field-name: printable ASCII except ":". */
static bool field_name_valid(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ':')
			return false;
	return true;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")", at s[*pos] ("(" already
 * checked). Field names are atoms or quoted strings. */
static bool parse_header_list(const char *s, size_t len, size_t *pos, struct imap_section *out,
			      const char **err)
{
	size_t i = *pos + 1, cap = 0;
	struct buf name = BUF_INIT;
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len) {
			*err = "Missing ')' after the header field names";
			goto fail;
		}
		if (s[i] == ')')
			break;
		buf_reset(&name);
		if (s[i] == '"') {
			i++;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				buf_append_char(&name, s[i++]);
			}
			if (i >= len) {
				*err = "Missing '\"' in a header field name";
				goto fail;
			}
			i++;
		} else {
			while (i < len && s[i] != ' ' && s[i] != ')' && s[i] != '(' && s[i] != '"')
				buf_append_char(&name, s[i++]);
		}
		if (!field_name_valid(name.data, name.len)) {
			*err = "Invalid header field name";
			goto fail;
		}
		if (i < len && s[i] != ' ' && s[i] != ')') {
			*err = "Missing space between header field names";
			goto fail;
		}
		if (out->nfields == cap) {
			cap = cap ? cap * 2 : 8;
			out->fields = xrealloc(out->fields, cap * sizeof *out->fields);
		}
		out->fields[out->nfields++] = buf_steal(&name, NULL);
	}
	if (out->nfields == 0) {
		*err = "Empty list of header field names";
		goto fail;
	}
	buf_free(&name);
	*pos = i + 1;
	return true;
fail:
	buf_free(&name);
	return false;
}

bool imap_section_parse(const char *s, size_t len, bool binary, struct imap_section *out,
			const char **err)
{
	memset(out, 0, sizeof *out);
	size_t i = 0;
	/* section-part = nz-number *("." nz-number) */
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		size_t j = i;
		while (j < len && s[j] >= '0' && s[j] <= '9')
			j++;
		uint32_t part;
		if (!imap_parse_nz_number(s + i, j - i, &part)) {
			*err = "Invalid part number in a section";
			goto fail;
		}
		if (out->nparts == IMAP_SECTION_MAX_PARTS) {
			*err = "Section part numbers nested too deep";
			goto fail;
		}
		out->parts[out->nparts++] = part;
		i = j;
		if (i == len)
			break;
		if (s[i] != '.') {
			*err = "Invalid section: expected '.' after a part number";
			goto fail;
		}
		i++;
		if (i == len) {
			*err = "Invalid section: nothing after '.'";
			goto fail;
		}
	}
	out->spec = IMAP_SECTION_WHOLE;
	if (i == len)
		return true;
	if (binary) {
		*err = "BINARY sections take part numbers only";
		goto fail;
	}
	size_t j = i;
	while (j < len && s[j] != ' ')
		j++;
	const char *w = s + i;
	size_t wlen = j - i;
	if (word_is(w, wlen, "HEADER")) {
		out->spec = IMAP_SECTION_HEADER;
	} else if (word_is(w, wlen, "TEXT")) {
		out->spec = IMAP_SECTION_TEXT;
	} else if (word_is(w, wlen, "MIME")) {
		if (out->nparts == 0) {
			*err = "MIME needs a part number (e.g. 1.MIME)";
			goto fail;
		}
		out->spec = IMAP_SECTION_MIME;
	} else if (word_is(w, wlen, "HEADER.FIELDS") || word_is(w, wlen, "HEADER.FIELDS.NOT")) {
		out->spec = wlen == 13 ? IMAP_SECTION_HEADER_FIELDS
				       : IMAP_SECTION_HEADER_FIELDS_NOT;
		if (j + 1 >= len || s[j] != ' ' || s[j + 1] != '(') {
			*err = "HEADER.FIELDS needs a list of field names";
			goto fail;
		}
		j++;
		if (!parse_header_list(s, len, &j, out, err))
			goto fail;
	} else {
		*err = "Unknown section (expected HEADER, HEADER.FIELDS, TEXT or MIME)";
		goto fail;
	}
	if (j != len) {
		*err = "Unexpected text after the section";
		goto fail;
	}
	return true;
fail:
	imap_section_free(out);
	return false;
}

static void append_field(struct buf *out, const char *f)
{
	if (imap_is_atom(f, strlen(f))) {
		buf_append_str(out, f);
		return;
	}
	buf_append_char(out, '"');
	for (; *f; f++) {
		if (*f == '"' || *f == '\\')
			buf_append_char(out, '\\');
		buf_append_char(out, *f);
	}
	buf_append_char(out, '"');
}

void imap_section_format(const struct imap_section *s, struct buf *out)
{
	static const char *const names[] = {
		[IMAP_SECTION_WHOLE] = "",
		[IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECTION_TEXT] = "TEXT",
		[IMAP_SECTION_MIME] = "MIME",
	};
	buf_reserve(out, 0);
	for (size_t i = 0; i < s->nparts; i++)
		buf_printf(out, i ? ".%u" : "%u", s->parts[i]);
	if (s->spec == IMAP_SECTION_WHOLE)
		return;
	if (s->nparts)
		buf_append_char(out, '.');
	buf_append_str(out, names[s->spec]);
	if (s->spec != IMAP_SECTION_HEADER_FIELDS && s->spec != IMAP_SECTION_HEADER_FIELDS_NOT)
		return;
	buf_append_str(out, " (");
	for (size_t i = 0; i < s->nfields; i++) {
		if (i)
			buf_append_char(out, ' ');
		append_field(out, s->fields[i]);
	}
	buf_append_char(out, ')');
}

/* partial = "<" number64 "." nz-number64 ">" */
static bool parse_partial(const char *s, size_t len, struct imap_fetch_body *b, const char **err)
{
	const char *dot = len >= 2 ? memchr(s, '.', len) : NULL;
	if (len < 5 || s[0] != '<' || s[len - 1] != '>' || !dot) {
		*err = "Invalid partial range (expected <offset.length>)";
		return false;
	}
	size_t olen = (size_t)(dot - s) - 1;
	size_t llen = len - 2 - olen - 1;
	if (!imap_parse_number64(s + 1, olen, &b->offset) ||
	    !imap_parse_number64(dot + 1, llen, &b->length) || b->length == 0) {
		*err = "Invalid partial range (expected <offset.length>, length at least 1)";
		return false;
	}
	b->partial = true;
	return true;
}

/* Where the "]" closing the section at s[open] is, skipping quoted strings; len if none. */
static size_t find_section_end(const char *s, size_t len, size_t open)
{
	bool quoted = false;
	for (size_t i = open + 1; i < len; i++) {
		if (quoted) {
			if (s[i] == '\\' && i + 1 < len)
				i++;
			else if (s[i] == '"')
				quoted = false;
		} else if (s[i] == '"') {
			quoted = true;
		} else if (s[i] == ']') {
			return i;
		}
	}
	return len;
}

static bool parse_body_item(const char *s, size_t len, struct imap_fetch_atts *out,
			    const char **err)
{
	const char *open = memchr(s, '[', len);
	size_t plen = (size_t)(open - s);
	size_t k;
	for (k = 0; k < sizeof body_prefixes / sizeof body_prefixes[0]; k++)
		if (word_is(s, plen, body_prefixes[k].name))
			break;
	if (k == sizeof body_prefixes / sizeof body_prefixes[0]) {
		*err = "Unknown FETCH attribute";
		return false;
	}
	size_t close = find_section_end(s, len, plen);
	if (close == len) {
		*err = "Missing ']' after a section";
		return false;
	}
	struct imap_fetch_body b;
	memset(&b, 0, sizeof b);
	b.kind = body_prefixes[k].kind;
	b.peek = body_prefixes[k].peek;
	if (close + 1 < len) {
		if (b.kind == IMAP_FETCH_BINARY_SIZE) {
			*err = "BINARY.SIZE takes no partial range";
			return false;
		}
		if (!parse_partial(s + close + 1, len - close - 1, &b, err))
			return false;
	}
	if (!imap_section_parse(s + plen + 1, close - plen - 1, b.kind != IMAP_FETCH_BODY_SECTION,
				&b.section, err))
		return false;
	/* The capacity doubles at powers of two (there is no field for it). */
	size_t n = out->nbodies;
	if (n == 0 || (n & (n - 1)) == 0)
		out->bodies = xrealloc(out->bodies, (n ? n * 2 : 1) * sizeof *out->bodies);
	out->bodies[out->nbodies++] = b;
	return true;
}

static bool parse_att(const struct imap_arg *a, struct imap_fetch_atts *out, const char **err)
{
	if (a->type != IMAP_ARG_ATOM) {
		*err = "FETCH attributes are atoms (e.g. FLAGS or BODY.PEEK[HEADER])";
		return false;
	}
	if (memchr(a->str, '[', a->len))
		return parse_body_item(a->str, a->len, out, err);
	for (size_t k = 0; k < sizeof simple_items / sizeof simple_items[0]; k++) {
		if (word_is(a->str, a->len, simple_items[k].name)) {
			out->items |= simple_items[k].items;
			return true;
		}
	}
	for (size_t k = 0; k < sizeof macros / sizeof macros[0]; k++) {
		if (word_is(a->str, a->len, macros[k].name)) {
			*err = "FETCH macros (ALL, FAST, FULL) cannot be inside a list";
			return false;
		}
	}
	*err = "Unknown FETCH attribute";
	return false;
}

static bool parse_modifiers(const struct imap_arg *m, struct imap_fetch_atts *out,
			    const char **err)
{
	if (m->type != IMAP_ARG_LIST || m->count == 0) {
		*err = "FETCH modifiers must be a non-empty list";
		return false;
	}
	for (size_t i = 0; i < m->count; i++) {
		const struct imap_arg *a = &m->list[i];
		if (imap_arg_atom_equals(a, "CHANGEDSINCE")) {
			if (out->changedsince) {
				*err = "CHANGEDSINCE given twice";
				return false;
			}
			if (i + 1 >= m->count || m->list[i + 1].type != IMAP_ARG_ATOM ||
			    !imap_parse_number64(m->list[i + 1].str, m->list[i + 1].len,
						 &out->changedsince_modseq)) {
				*err = "CHANGEDSINCE needs a mod-sequence number";
				return false;
			}
			out->changedsince = true;
			out->items |= IMAP_FETCH_MODSEQ;
			i++;
		} else if (imap_arg_atom_equals(a, "VANISHED")) {
			if (out->vanished) {
				*err = "VANISHED given twice";
				return false;
			}
			out->vanished = true;
		} else {
			*err = "Unknown FETCH modifier (expected CHANGEDSINCE or VANISHED)";
			return false;
		}
	}
	if (out->vanished && !out->changedsince) {
		*err = "VANISHED needs CHANGEDSINCE";
		return false;
	}
	return true;
}

bool imap_fetch_atts_parse(const struct imap_arg *atts, const struct imap_arg *modifiers,
			   struct imap_fetch_atts *out, const char **err)
{
	memset(out, 0, sizeof *out);
	if (atts->type == IMAP_ARG_ATOM) {
		bool macro = false;
		for (size_t k = 0; k < sizeof macros / sizeof macros[0]; k++) {
			if (word_is(atts->str, atts->len, macros[k].name)) {
				out->items = macros[k].items;
				macro = true;
			}
		}
		if (!macro && !parse_att(atts, out, err))
			goto fail;
	} else if (atts->type == IMAP_ARG_LIST) {
		if (atts->count == 0) {
			*err = "Empty list of FETCH attributes";
			goto fail;
		}
		for (size_t i = 0; i < atts->count; i++)
			if (!parse_att(&atts->list[i], out, err))
				goto fail;
	} else {
		*err = "FETCH attributes are atoms (e.g. FLAGS or BODY.PEEK[HEADER])";
		goto fail;
	}
	if (modifiers && !parse_modifiers(modifiers, out, err))
		goto fail;
	return true;
fail:
	imap_fetch_atts_free(out);
	return false;
}

void imap_fetch_atts_free(struct imap_fetch_atts *f)
{
	for (size_t i = 0; i < f->nbodies; i++)
		imap_section_free(&f->bodies[i].section);
	free(f->bodies);
	memset(f, 0, sizeof *f);
}
