/* SPDX-License-Identifier: Apache-2.0 */
/*
 * observe_filter.h - `sluice observe`'s filter flags turned into Hubble's
 * FlowFilter lists (the allowlist and the denylist of a GetFlows request),
 * the way `hubble observe` builds them, so that the same flags select the
 * same flows and --print-raw-filters prints what hubble prints.
 */
#ifndef SLUICE_CLI_OBSERVE_FILTER_H
#define SLUICE_CLI_OBSERVE_FILTER_H

#include <jansson.h>
#include <stdbool.h>

struct obs_filter;

struct obs_filter *obs_filter_new(void);
void obs_filter_free(struct obs_filter *f);
/* The filter flags ("pod", "not", ...): how many, the i-th, and whether
 * one takes a value ("not", "ipv4" and "ipv6" do not). */
size_t obs_filter_nflags(void);
const char *obs_filter_flag(size_t i);
bool obs_filter_flag_has_value(const char *name);
/* One flag with its value ("not" takes none). 0, or -1 with *err (malloc'd). */
int obs_filter_set(struct obs_filter *f, const char *name, const char *value, char **err);
/* A raw FlowFilter (JSON) for the allowlist (deny false) or the denylist. */
int obs_filter_add_raw(struct obs_filter *f, bool deny, const char *json, char **err);
/* The lists (new references; empty arrays when nothing was given).
 * -1 with *err after a trailing --not. */
int obs_filter_lists(struct obs_filter *f, json_t **allow, json_t **deny, char **err);
/* --print-raw-filters: the lists as hubble prints them (YAML, malloc'd). */
char *obs_filter_yaml(json_t *allow, json_t *deny);

#endif
