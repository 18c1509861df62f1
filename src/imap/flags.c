/* Message flags on the wire: the system flags and keywords of a FETCH or a sync, and the
 * flag lists STORE and APPEND take. */
#include <string.h>

#include "imap/session.h"

static const struct {
	unsigned bit;
	const char *name;
} system_flags[] = {
	{ STORE_FLAG_ANSWERED, "\\Answered" }, { STORE_FLAG_FLAGGED, "\\Flagged" },
	{ STORE_FLAG_DELETED, "\\Deleted" },   { STORE_FLAG_SEEN, "\\Seen" },
	{ STORE_FLAG_DRAFT, "\\Draft" },
};

void imap_format_flags(unsigned flags, const char *keywords, struct buf *out)
{
	buf_append_char(out, '(');
	bool first = true;
	for (size_t i = 0; i < sizeof system_flags / sizeof system_flags[0]; i++)
		if (flags & system_flags[i].bit) {
			buf_printf(out, "%s%s", first ? "" : " ", system_flags[i].name);
			first = false;
		}
	if (keywords && keywords[0])
		buf_printf(out, "%s%s", first ? "" : " ", keywords);
	buf_append_char(out, ')');
}

bool imap_parse_flag_list(const struct imap_arg *arg, unsigned *flags, struct buf *keywords)
{
	const struct imap_arg *list = arg;
	size_t n = 1;
	if (arg->type == IMAP_ARG_LIST)
		imap_arg_get_list(arg, &list, &n);
	*flags = 0;
	for (size_t i = 0; i < n; i++) {
		if (list[i].type != IMAP_ARG_ATOM)
			return false;
		bool sys = false;
		for (size_t k = 0; k < sizeof system_flags / sizeof system_flags[0]; k++)
			if (imap_arg_atom_equals(&list[i], system_flags[k].name)) {
				*flags |= system_flags[k].bit;
				sys = true;
			}
		if (sys)
			continue;
		if (list[i].str[0] == '\\') {
			if (imap_arg_atom_equals(&list[i], "\\Recent"))
				continue;
			return false;
		}
		if (!imap_is_atom(list[i].str, list[i].len))
			return false;
		if (keywords->len)
			buf_append_char(keywords, ' ');
		buf_append(keywords, list[i].str, list[i].len);
	}
	buf_reserve(keywords, 0);
	return true;
}
