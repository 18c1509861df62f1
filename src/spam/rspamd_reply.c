#include "spam/rspamd_reply.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"

static const char *const action_names[] = {
	[RSPAMD_NO_ACTION] = "no action",
	[RSPAMD_GREYLIST] = "greylist",
	[RSPAMD_ADD_HEADER] = "add header",
	[RSPAMD_REWRITE_SUBJECT] = "rewrite subject",
	[RSPAMD_SOFT_REJECT] = "soft reject",
	[RSPAMD_REJECT] = "reject",
};

const char *rspamd_action_name(enum rspamd_action a)
{
	if ((size_t)a < sizeof action_names / sizeof action_names[0])
		return action_names[a];
	return "?";
}

bool rspamd_symbol_is_virus(const char *name)
{
	size_t n = strlen(name);
	return n > 6 && strcmp(name + n - 6, "_VIRUS") == 0;
}

/* Printable ASCII only (SMTP replies, symbol and virus names), at most MAX_TEXT bytes. */
static char *clean_ascii(const char *s, size_t n)
{
	if (n > RSPAMD_REPLY_MAX_TEXT)
		n = RSPAMD_REPLY_MAX_TEXT;
	char *out = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
	return out;
}

/* Header text: UTF-8 kept (jansson has checked it), cut at a character boundary; control
 * bytes become spaces so a value can never end the header or start another. */
static char *clean_header_text(const char *s, size_t n)
{
	if (n > RSPAMD_REPLY_MAX_TEXT) {
		n = RSPAMD_REPLY_MAX_TEXT;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	char *out = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	out[n] = '\0';
	return out;
}

/* RFC 5322 field-name: printable ASCII but ':'; bounded like any header line. */
static bool valid_field_name(const char *s, size_t n)
{
	if (n == 0 || n > 76)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ':')
			return false;
	return true;
}

static bool fail(struct buf *err, const char *what)
{
	buf_append_str(err, what);
	return false;
}

static bool parse_action(const char *s, enum rspamd_action *out)
{
	for (size_t i = 0; i < sizeof action_names / sizeof action_names[0]; i++)
		if (strcmp(s, action_names[i]) == 0) {
			*out = (enum rspamd_action)i;
			return true;
		}
	return false;
}

static double magnitude(double x)
{
	return x < 0 ? -x : x;
}

/* Keeps the MAX_SYMBOLS strongest: when full, a stronger symbol replaces the weakest. */
static void keep_symbol(struct rspamd_result *r, const char *name, size_t namelen, double score)
{
	size_t slot = r->nsymbols;
	if (r->nsymbols == RSPAMD_REPLY_MAX_SYMBOLS) {
		slot = 0;
		for (size_t i = 1; i < r->nsymbols; i++)
			if (magnitude(r->symbols[i].score) < magnitude(r->symbols[slot].score))
				slot = i;
		if (magnitude(score) <= magnitude(r->symbols[slot].score))
			return;
		free(r->symbols[slot].name);
	} else {
		if (!r->symbols)
			r->symbols = xcalloc(RSPAMD_REPLY_MAX_SYMBOLS, sizeof *r->symbols);
		r->nsymbols++;
	}
	r->symbols[slot].name = clean_ascii(name, namelen);
	r->symbols[slot].score = score;
}

static int by_score(const void *a, const void *b)
{
	const struct rspamd_symbol *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool parse_symbols(json_t *symbols, struct rspamd_result *r, struct buf *err)
{
	if (!json_is_object(symbols))
		return fail(err, "\"symbols\" is not an object");
	const char *key;
	json_t *sym;
	json_object_foreach(symbols, key, sym) {
		if (!json_is_object(sym))
			return fail(err, "a symbol is not an object");
		json_t *score = json_object_get(sym, "score");
		if (!json_is_number(score) || !isfinite(json_number_value(score)))
			return fail(err, "a symbol's \"score\" is not a number");
		json_t *options = json_object_get(sym, "options");
		if (options && !json_is_array(options))
			return fail(err, "a symbol's \"options\" is not a list");
		size_t keylen = strlen(key);
		r->symbols_total++;
		keep_symbol(r, key, keylen, json_number_value(score));
		if (!r->virus && rspamd_symbol_is_virus(key)) {
			/* The antivirus module puts the scanner's name for what it found first. */
			json_t *first = options ? json_array_get(options, 0) : NULL;
			size_t n = json_is_string(first) ? json_string_length(first) : 0;
			if (n > 0)
				r->virus = clean_ascii(json_string_value(first), n);
			else
				r->virus = clean_ascii(key, keylen);
		}
	}
	if (r->nsymbols)
		qsort(r->symbols, r->nsymbols, sizeof *r->symbols, by_score);
	return true;
}

static void add_header(struct rspamd_result *r, const char *name, json_t *value)
{
	if (!valid_field_name(name, strlen(name)) || r->nadd_headers == RSPAMD_REPLY_MAX_HEADERS)
		return;
	if (!r->add_headers)
		r->add_headers = xcalloc(RSPAMD_REPLY_MAX_HEADERS, sizeof *r->add_headers);
	struct rspamd_header *h = &r->add_headers[r->nadd_headers++];
	h->name = xstrdup(name);
	h->value = clean_header_text(json_string_value(value), json_string_length(value));
}

/* milter.add_headers: NAME -> "value", {"value": "...", "order": N}, or a list of those. */
static bool parse_add_headers(json_t *obj, struct rspamd_result *r, struct buf *err)
{
	if (!json_is_object(obj))
		return fail(err, "\"milter.add_headers\" is not an object");
	const char *name;
	json_t *v;
	json_object_foreach(obj, name, v) {
		size_t n = json_is_array(v) ? json_array_size(v) : 1;
		for (size_t i = 0; i < n; i++) {
			json_t *item = json_is_array(v) ? json_array_get(v, i) : v;
			if (json_is_object(item))
				item = json_object_get(item, "value");
			if (!json_is_string(item))
				return fail(err, "a header in \"milter.add_headers\" has no "
						 "text value");
			add_header(r, name, item);
		}
	}
	return true;
}

static bool parse_remove_headers(json_t *obj, struct rspamd_result *r, struct buf *err)
{
	if (!json_is_object(obj))
		return fail(err, "\"milter.remove_headers\" is not an object");
	const char *name;
	json_t *v;
	json_object_foreach(obj, name, v) {
		/* the value says which occurrence (0: all); yubin removes them all */
		if (!json_is_number(v))
			return fail(err, "a header in \"milter.remove_headers\" has no number");
		if (!valid_field_name(name, strlen(name)) ||
		    r->nremove_headers == RSPAMD_REPLY_MAX_HEADERS)
			continue;
		if (!r->remove_headers)
			r->remove_headers = xcalloc(RSPAMD_REPLY_MAX_HEADERS,
						    sizeof *r->remove_headers);
		r->remove_headers[r->nremove_headers++] = xstrdup(name);
	}
	return true;
}

static bool parse_root(json_t *root, struct rspamd_result *r, struct buf *err)
{
	if (!json_is_object(root))
		return fail(err, "the answer is not a JSON object");
	json_t *e = json_object_get(root, "error");
	if (e) {
		buf_append_str(err, "rspamd answered an error: ");
		if (json_is_string(e)) {
			char *text = clean_ascii(json_string_value(e), json_string_length(e));
			buf_append_str(err, text);
			free(text);
		} else {
			buf_append_str(err, "(not text)");
		}
		return false;
	}
	json_t *action = json_object_get(root, "action");
	if (!json_is_string(action))
		return fail(err, "\"action\" is missing or not text");
	if (!parse_action(json_string_value(action), &r->action))
		return fail(err, "\"action\" is not one rspamd defines");
	json_t *score = json_object_get(root, "score");
	if (!json_is_number(score) || !isfinite(json_number_value(score)))
		return fail(err, "\"score\" is missing or not a number");
	r->score = json_number_value(score);
	json_t *required = json_object_get(root, "required_score");
	if (required) {
		if (!json_is_number(required) || !isfinite(json_number_value(required)))
			return fail(err, "\"required_score\" is not a number");
		r->required_score = json_number_value(required);
	}
	json_t *skipped = json_object_get(root, "is_skipped");
	if (skipped && !json_is_boolean(skipped))
		return fail(err, "\"is_skipped\" is not true or false");
	r->skipped = json_is_true(skipped);
	json_t *symbols = json_object_get(root, "symbols");
	if (symbols && !parse_symbols(symbols, r, err))
		return false;
	json_t *messages = json_object_get(root, "messages");
	if (messages) {
		if (!json_is_object(messages))
			return fail(err, "\"messages\" is not an object");
		json_t *m = json_object_get(messages, "smtp_message");
		if (m && !json_is_string(m))
			return fail(err, "\"messages.smtp_message\" is not text");
		if (m && json_string_length(m) > 0)
			r->smtp_message = clean_ascii(json_string_value(m), json_string_length(m));
	}
	json_t *subject = json_object_get(root, "subject");
	if (subject) {
		if (!json_is_string(subject))
			return fail(err, "\"subject\" is not text");
		r->subject = clean_header_text(json_string_value(subject),
					       json_string_length(subject));
	}
	json_t *milter = json_object_get(root, "milter");
	if (milter) {
		if (!json_is_object(milter))
			return fail(err, "\"milter\" is not an object");
		json_t *add = json_object_get(milter, "add_headers");
		if (add && !parse_add_headers(add, r, err))
			return false;
		json_t *rm = json_object_get(milter, "remove_headers");
		if (rm && !parse_remove_headers(rm, r, err))
			return false;
	}
	return true;
}

bool rspamd_reply_parse(const char *body, size_t len, struct rspamd_result *out, struct buf *err)
{
	memset(out, 0, sizeof *out);
	if (len == 0)
		return fail(err, "empty answer");
	if (len > RSPAMD_REPLY_MAX_BYTES) {
		buf_printf(err, "answer larger than %d bytes", RSPAMD_REPLY_MAX_BYTES);
		return false;
	}
	json_error_t jerr;
	/* jansson bounds nesting itself (2048 levels), rejects invalid UTF-8 and \u0000 */
	json_t *root = json_loadb(body, len, 0, &jerr);
	if (!root) {
		char *why = clean_ascii(jerr.text, strlen(jerr.text));
		buf_printf(err, "not JSON (%s at byte %d)", why, jerr.position);
		free(why);
		return false;
	}
	bool ok = parse_root(root, out, err);
	json_decref(root);
	return ok;
}

void rspamd_result_free(struct rspamd_result *r)
{
	for (size_t i = 0; i < r->nsymbols; i++)
		free(r->symbols[i].name);
	free(r->symbols);
	for (size_t i = 0; i < r->nadd_headers; i++) {
		free(r->add_headers[i].name);
		free(r->add_headers[i].value);
	}
	free(r->add_headers);
	for (size_t i = 0; i < r->nremove_headers; i++)
		free(r->remove_headers[i]);
	free(r->remove_headers);
	free(r->smtp_message);
	free(r->subject);
	free(r->virus);
	memset(r, 0, sizeof *r);
}
