/*
 * cmd.h - what the `cairn` entry point (cmd/cairn_main.c) itself provides
 * besides the modules' subcommands, which each module's header declares
 * (keys/keys.h cmd_keys, query/query.h cmd_query, audit/audit.h
 * cmd_audit, privacy/dp.h dp_cmd_privacy, synth/synth.h cmd_synth).
 */
#ifndef CAIRN_CMD_CMD_H
#define CAIRN_CMD_CMD_H

/*
 * `cairn demo` (cmd/cmd_demo.c): run tools/demo.sh, found next to the
 * running program, on the programs beside it.  argv[0] is "demo";
 * returns the exit code (it does not return when the script starts).
 */
int	cmd_demo(int argc, char **argv);

#endif
