/*
 * cmds.h - entry points of the `cairn` subcommands, one per module.
 * Each takes argv with argv[0] = its own name and returns an exit code.
 */
#ifndef CAIRN_TOOLS_CMDS_H
#define CAIRN_TOOLS_CMDS_H

/* `cairn keys`: keys/cmd_keys.c */
int	cmd_keys(int argc, char **argv);
int	cmd_audit(int argc, char **argv);	/* audit/cmd_audit.c */
int	cmd_query(int argc, char **argv);	/* query/cmd_query.c */
/* `cairn privacy sample|plan` (privacy/cmd_privacy.c). */
int	dp_cmd_privacy(int argc, char **argv);
/* cairn synth: synthetic federation data with ground truth (tools/synth*). */
int	cmd_synth(int argc, char **argv);
/* `cairn demo` (tools/cmd_demo.c). */
int	cmd_demo(int argc, char **argv);

#endif
