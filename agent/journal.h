/* SPDX-License-Identifier: Apache-2.0 */
/*
 * journal.h - a policy text's edit journal: one-item edits are appended
 * to the text's file in the state directory ("EDIT AT OLDLEN LEN\n" and
 * LEN bytes each) instead of the whole text written again, and replayed
 * over the text on restart. Pure logic (unit-tested in tests/unit/agent);
 * state.c does the files.
 */
#ifndef SLUICE_AGENT_JOURNAL_H
#define SLUICE_AGENT_JOURNAL_H

#include <stddef.h>

/* text[at, +old_len) of the tlen bytes (NUL-terminated) becomes
 * repl[0, len), in place (the buffer grows when needed); returns it */
char *journal_splice(char *text, size_t tlen, size_t at, size_t old_len, const char *repl,
		     size_t len);
/* The record header for one edit, into head (returns its length). */
int journal_record_head(char *head, size_t cap, size_t at, size_t old_len, size_t len);
/* Replays the records of j[0, jlen) over text (malloc'd, NUL-terminated;
 * returned, maybe moved). A torn last record is ignored; a record that does
 * not fit the text stops the replay. *used: the bytes of j replayed. */
char *journal_replay(char *text, const char *j, size_t jlen, size_t *used);

#endif
