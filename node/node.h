/*
 * node.h - the subcommands of cairn-node that work on data files without
 * the daemon (node/cmd_*.c): run-local, check-data and ingest.  The
 * aggregation engine they drive is node/engine/engine.h.
 */
#ifndef CAIRN_NODE_H
#define CAIRN_NODE_H

int	node_cmd_run_local(int argc, char **argv);
int	node_cmd_check_data(int argc, char **argv);
int	node_cmd_ingest(int argc, char **argv);
int	node_cmd_prune(int argc, char **argv);

#endif
