/*
 * cmds.h - entry points of the `cairn` subcommands, one per module.
 * Each takes argv with argv[0] = its own name and returns an exit code.
 */
#ifndef CAIRN_TOOLS_CMDS_H
#define CAIRN_TOOLS_CMDS_H

/* cairn synth: synthetic federation data with ground truth (tools/synth*). */
int	cmd_synth(int argc, char **argv);

#endif
