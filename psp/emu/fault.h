/* Fault plans of sev-psp-emu: rules that make the emulated PSP misbehave on purpose
 * so that its host (sevd) can be tested against a failing firmware, a hung PSP, a malformed
 * reply, a crashed or disconnected emulator. One rule per text line (`--fault PLAN` or CTL
 * `fault PLAN`); grammar in README.md "Fault plans". Rules live in memory only: they are never
 * written to the NV file and are gone when the process ends.
 *
 * Rule text comes from the command line or from any client of the socket: the parser trusts
 * none of it and names what is wrong. Only the process (main.c) creates a rule table; an
 * emu_fw without one (the fuzz targets) refuses CTL `fault`, so fuzzing cannot kill itself. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_FAULT_MAX_RULES 32
#define EMU_FAULT_MAX_TEXT 200	       /* one rule's text, in bytes */
#define EMU_FAULT_MAX_HANG 86400u      /* seconds */
#define EMU_FAULT_COUNT_ALL UINT64_MAX /* `count=all`: every call from the nth on */
#define EMU_FAULT_GARBAGE_BYTES 8      /* garbage-len: bytes appended to the reply payload */

enum emu_fault_kind {
	EMU_FAULT_NONE,
	EMU_FAULT_FAIL,	       /* answer a firmware status; the command does not run */
	EMU_FAULT_HANG,	       /* the command runs, then the emulator stalls before replying */
	EMU_FAULT_GARBAGE_LEN, /* the reply payload is longer than the command buffer */
	EMU_FAULT_DIE,	       /* the process is SIGKILLed instead of replying */
	EMU_FAULT_DROP_SOCKET, /* the client's connection is closed instead of replying */
};

struct emu_fault_rule {
	uint32_t cmd; /* firmware command id */
	enum emu_fault_kind kind;
	int status;	  /* FAIL: the firmware status answered (never SUCCESS) */
	uint32_t seconds; /* HANG: 1..EMU_FAULT_MAX_HANG */
	uint64_t nth;	  /* first call of cmd it fires on, counted from 1 since install */
	uint64_t count;	  /* calls it fires on from the nth (EMU_FAULT_COUNT_ALL: all) */
	bool before;	  /* GARBAGE_LEN, DIE, DROP_SOCKET: strike before the command runs */
	uint64_t calls;	  /* calls of cmd seen since the rule was installed */
	uint64_t fired;	  /* how often it struck */
};

/* What the socket side must do for the command just run (see emu_faults_take_action). */
struct emu_fault_action {
	enum emu_fault_kind kind; /* NONE, HANG, GARBAGE_LEN, DIE or DROP_SOCKET */
	uint32_t cmd;
	uint32_t seconds;
};

struct emu_faults;

int emu_faults_new(struct emu_faults **ret);
void emu_faults_free(struct emu_faults *f);

/* Parse one rule. On error returns -EINVAL (or -E2BIG for an overlong text) and writes a
 * sentence naming the problem into err[err_len]. */
int emu_fault_parse(const char *text, struct emu_fault_rule *ret, char *err, size_t err_len);
/* Canonical text of a rule (what `fault list` shows); returns the length snprintf would. */
int emu_fault_format(const struct emu_fault_rule *r, char *buf, size_t cap);

/* Parse and install one rule. msg[msg_len] gets the rule's canonical text on success, or the
 * reason on failure (-EINVAL, -E2BIG, or -ENOSPC beyond EMU_FAULT_MAX_RULES). */
int emu_faults_add(struct emu_faults *f, const char *text, char *msg, size_t msg_len);
void emu_faults_clear(struct emu_faults *f);
/* One line per rule, "RULE calls=N fired=M", '\n'-separated; returns the text length. */
size_t emu_faults_list(const struct emu_faults *f, char *buf, size_t cap);

/* The interception point (firmware.c), once per command that passed the id and length
 * checks: counts the call against every rule for cmd and returns the first installed rule
 * that fires on it, or NULL (always NULL when f is NULL). A firing rule other than FAIL
 * leaves an action for the socket side. */
const struct emu_fault_rule *emu_faults_hit(struct emu_faults *f, uint32_t cmd);
/* The action left by the last command (kind NONE when none), cleared by this call. */
struct emu_fault_action emu_faults_take_action(struct emu_faults *f);
