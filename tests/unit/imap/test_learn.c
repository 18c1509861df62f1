/* Which IMAP changes teach the spam filter what (imap/learn.c). */
#include "imap/learn.h"
#include "test.h"

TEST(imap_learn_copy_into_and_out_of_junk)
{
	/* into Junk from anywhere else: spam */
	CHECK_EQ_INT(imap_learn_of_copy(false, "\\Junk"), IMAP_LEARN_SPAM);
	/* out of Junk to a plain mailbox or another role: ham */
	CHECK_EQ_INT(imap_learn_of_copy(true, ""), IMAP_LEARN_HAM);
	CHECK_EQ_INT(imap_learn_of_copy(true, "\\Archive"), IMAP_LEARN_HAM);
	CHECK_EQ_INT(imap_learn_of_copy(true, NULL), IMAP_LEARN_HAM);
	/* out of Junk to Trash: deleting is not a verdict */
	CHECK_EQ_INT(imap_learn_of_copy(true, "\\Trash"), IMAP_LEARN_NONE);
	/* Junk to Junk (a second \Junk mailbox), and between other mailboxes: nothing */
	CHECK_EQ_INT(imap_learn_of_copy(true, "\\Junk"), IMAP_LEARN_NONE);
	CHECK_EQ_INT(imap_learn_of_copy(false, ""), IMAP_LEARN_NONE);
	CHECK_EQ_INT(imap_learn_of_copy(false, "\\Trash"), IMAP_LEARN_NONE);
	CHECK_EQ_INT(imap_learn_of_copy(false, "\\Sent"), IMAP_LEARN_NONE);
	/* roles are exact: a mailbox merely named like one has no role */
	CHECK_EQ_INT(imap_learn_of_copy(false, "Junk"), IMAP_LEARN_NONE);
	CHECK_EQ_INT(imap_learn_of_copy(false, "\\Junkyard"), IMAP_LEARN_NONE);
}

TEST(imap_learn_store_keywords)
{
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_ADD, "$Junk"), IMAP_LEARN_SPAM);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_ADD, "$junk"), IMAP_LEARN_SPAM);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_SET, "$Work $Junk"), IMAP_LEARN_SPAM);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_ADD, "Junk"), IMAP_LEARN_SPAM);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_ADD, "$NotJunk"), IMAP_LEARN_HAM);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_ADD, "$NOTJUNK"), IMAP_LEARN_HAM);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_SET, "NonJunk $Label1"), IMAP_LEARN_HAM);
	/* removing a verdict is not the opposite verdict */
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_REMOVE, "$Junk"), IMAP_LEARN_NONE);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_REMOVE, "$NotJunk"), IMAP_LEARN_NONE);
	/* both at once contradict each other; other keywords say nothing */
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_ADD, "$Junk $NotJunk"), IMAP_LEARN_NONE);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_ADD, "$Junky $NotJunkAtAll"), IMAP_LEARN_NONE);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_ADD, "$Phishing"), IMAP_LEARN_NONE);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_ADD, ""), IMAP_LEARN_NONE);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_ADD, NULL), IMAP_LEARN_NONE);
	CHECK_EQ_INT(imap_learn_of_store(STORE_FLAGS_SET, ""), IMAP_LEARN_NONE);
}
