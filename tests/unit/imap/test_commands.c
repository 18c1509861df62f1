/* The IMAP command table (imap/commands.c): which commands run in which state, and which
 * have a UID form. No session: the check is pure. */
#include <stdio.h>

#include "imap/commands.h"
#include "test.h"
#include "util.h"

/* The table's verdict on one command line in a state; the name it looked up in *name. */
static enum imap_command_verdict verdict(enum imap_state state, const char *line, char *name,
					 size_t namelen)
{
	struct imap_command *c = imap_test_parse(line);
	if (!c)
		return (enum imap_command_verdict)-1;
	struct imap_command_call call;
	enum imap_command_verdict v = imap_command_check(state, c, &call);
	snprintf(name, namelen, "%s%s", call.uid ? "UID " : "",
		 call.def ? call.def->name : call.name);
	imap_command_free(&c);
	return v;
}

TEST(imap_commands_state)
{
	char name[64];
	/* any state */
	CHECK_EQ_INT(verdict(IMAP_NOT_AUTH, "a capability\r\n", name, sizeof name), IMAP_COMMAND_RUN);
	CHECK_EQ_STR(name, "CAPABILITY");
	CHECK_EQ_INT(verdict(IMAP_SELECTED, "a NOOP\r\n", name, sizeof name), IMAP_COMMAND_RUN);
	/* before login: only the any-state and login commands; everything else alike */
	CHECK_EQ_INT(verdict(IMAP_NOT_AUTH, "a LOGIN u p\r\n", name, sizeof name), IMAP_COMMAND_RUN);
	CHECK_EQ_INT(verdict(IMAP_NOT_AUTH, "a SELECT INBOX\r\n", name, sizeof name),
		     IMAP_COMMAND_LOGIN_FIRST);
	CHECK_EQ_INT(verdict(IMAP_NOT_AUTH, "a FETCH 1 FLAGS\r\n", name, sizeof name),
		     IMAP_COMMAND_LOGIN_FIRST);
	CHECK_EQ_INT(verdict(IMAP_NOT_AUTH, "a XYZZY\r\n", name, sizeof name),
		     IMAP_COMMAND_LOGIN_FIRST);
	/* after login: login commands refused, mailbox commands run */
	CHECK_EQ_INT(verdict(IMAP_AUTH, "a LOGIN u p\r\n", name, sizeof name),
		     IMAP_COMMAND_LOGGED_IN);
	CHECK_EQ_INT(verdict(IMAP_SELECTED, "a starttls\r\n", name, sizeof name),
		     IMAP_COMMAND_LOGGED_IN);
	CHECK_EQ_INT(verdict(IMAP_AUTH, "a select INBOX\r\n", name, sizeof name), IMAP_COMMAND_RUN);
	CHECK_EQ_STR(name, "SELECT");
	CHECK_EQ_INT(verdict(IMAP_SELECTED, "a APPEND INBOX {1}\r\nx\r\n", name, sizeof name),
		     IMAP_COMMAND_RUN);
	/* selected-state commands need a mailbox */
	CHECK_EQ_INT(verdict(IMAP_AUTH, "a FETCH 1 FLAGS\r\n", name, sizeof name),
		     IMAP_COMMAND_SELECT_FIRST);
	CHECK_EQ_INT(verdict(IMAP_AUTH, "a CLOSE\r\n", name, sizeof name),
		     IMAP_COMMAND_SELECT_FIRST);
	CHECK_EQ_INT(verdict(IMAP_SELECTED, "a CLOSE\r\n", name, sizeof name), IMAP_COMMAND_RUN);
	/* unknown */
	CHECK_EQ_INT(verdict(IMAP_AUTH, "a XYZZY\r\n", name, sizeof name), IMAP_COMMAND_UNKNOWN);
	CHECK_EQ_STR(name, "XYZZY");
	CHECK_EQ_INT(verdict(IMAP_SELECTED, "a FETCHX 1 FLAGS\r\n", name, sizeof name),
		     IMAP_COMMAND_UNKNOWN);
}

TEST(imap_commands_uid)
{
	char name[64];
	CHECK_EQ_INT(verdict(IMAP_SELECTED, "a UID FETCH 1 FLAGS\r\n", name, sizeof name),
		     IMAP_COMMAND_RUN);
	CHECK_EQ_STR(name, "UID FETCH");
	CHECK_EQ_INT(verdict(IMAP_SELECTED, "a uid expunge 1:3\r\n", name, sizeof name),
		     IMAP_COMMAND_RUN);
	CHECK_EQ_STR(name, "UID EXPUNGE");
	/* the arguments are those after the name */
	struct imap_command *c = imap_test_parse("a UID STORE 7 +FLAGS (\\Seen)\r\n");
	CHECK(c != NULL);
	if (c) {
		struct imap_command_call call;
		CHECK_EQ_INT(imap_command_check(IMAP_SELECTED, c, &call), IMAP_COMMAND_RUN);
		CHECK_EQ_INT(call.count, 3);
		CHECK(call.args[0].len == 1 && call.args[0].str[0] == '7');
		imap_command_free(&c);
	}
	/* no UID form */
	CHECK_EQ_INT(verdict(IMAP_SELECTED, "a UID CLOSE\r\n", name, sizeof name),
		     IMAP_COMMAND_UNKNOWN);
	CHECK_EQ_STR(name, "UID CLOSE");
	CHECK_EQ_INT(verdict(IMAP_AUTH, "a UID SELECT INBOX\r\n", name, sizeof name),
		     IMAP_COMMAND_UNKNOWN);
	CHECK_EQ_INT(verdict(IMAP_AUTH, "a UID LOGIN u p\r\n", name, sizeof name),
		     IMAP_COMMAND_UNKNOWN);
	CHECK_EQ_INT(verdict(IMAP_SELECTED, "a UID NOOP\r\n", name, sizeof name),
		     IMAP_COMMAND_UNKNOWN);
	/* the state is checked before the UID form for selected-state commands */
	CHECK_EQ_INT(verdict(IMAP_AUTH, "a UID CLOSE\r\n", name, sizeof name),
		     IMAP_COMMAND_SELECT_FIRST);
	CHECK_EQ_INT(verdict(IMAP_AUTH, "a UID FETCH 1 FLAGS\r\n", name, sizeof name),
		     IMAP_COMMAND_SELECT_FIRST);
	/* before login, a UID command is refused like any other */
	CHECK_EQ_INT(verdict(IMAP_NOT_AUTH, "a UID CAPABILITY\r\n", name, sizeof name),
		     IMAP_COMMAND_LOGIN_FIRST);
	/* "UID" alone, or followed by something that is not a name */
	CHECK_EQ_INT(verdict(IMAP_SELECTED, "a UID\r\n", name, sizeof name),
		     IMAP_COMMAND_UID_SYNTAX);
	CHECK_EQ_INT(verdict(IMAP_NOT_AUTH, "a UID \"FETCH\"\r\n", name, sizeof name),
		     IMAP_COMMAND_UID_SYNTAX);
}
