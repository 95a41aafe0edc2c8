/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_dir.h - sluiced --config-dir DIR: options from a directory with one
 * file per long option (a Kubernetes ConfigMap mounted as a volume, as the
 * DaemonSet does). File "metrics" holding "0.0.0.0:9962" is --metrics=0.0.0.0:9962;
 * "true" is the bare flag, "false" or an empty file leaves the option out.
 * Options read from DIR come before the command line's, so the command line
 * wins for options given twice.
 */
#ifndef SLUICE_CONFIG_DIR_H
#define SLUICE_CONFIG_DIR_H

struct config_argv {
	int argc;
	char **argv;   /* NULL-terminated; argv[0] is the program's */
	char **owned;  /* the strings this module allocated */
	int nowned;
};

/*
 * Expands every --config-dir DIR / --config-dir=DIR of argv into the options
 * of DIR. Names must be long option names ([a-z][a-z0-9-]*), files hidden
 * (".", e.g. a ConfigMap's ..data) are skipped, values are one line. On
 * error, names the file. 0 or -errno.
 */
int config_dir_expand(int argc, char **argv, struct config_argv *out, char **err);
void config_argv_free(struct config_argv *c);

#endif
