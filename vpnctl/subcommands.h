/* SPDX-License-Identifier: MIT */
/*
 * The subcommands of vpnctl, one file each.  Each takes its own name as
 * argv[0], answers --help, and returns one of the exit codes of ctl.h.
 */
#ifndef VPNCTL_SUBCOMMANDS_H
#define VPNCTL_SUBCOMMANDS_H

#include <getopt.h>

int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_servers(int argc, char **argv);
/* vpnctl servers keygen and vpnctl servers sign (sign.c). */
int cmd_servers_keygen(int argc, char **argv);
int cmd_servers_sign(int argc, char **argv);
int cmd_killswitch(int argc, char **argv);

struct ctl_reply;
/* The kill switch's lines of a status or killswitch reply, for a person. */
void killswitch_print(const struct ctl_reply *r);
/* No daemon: the kill switch's pairs from its state file, into @r. */
int killswitch_from_file(struct ctl_reply *r);
int cmd_leaktest(int argc, char **argv);

/* Split tunneling by application (exec.c, splitapp.c).  "vpnctl split"
 * hands "apps" and "pid" to split_apps_main() and split_pid_main(), with
 * that word as argv[0]; cmd_splitapp() is that dispatch for those two
 * alone, until split.c has its table. */
int cmd_exec(int argc, char **argv);
int split_apps_main(int argc, char **argv);
int split_pid_main(int argc, char **argv);
int cmd_splitapp(int argc, char **argv);
/* --bypass ('b') or --tunnel ('t') into *group, once: CTL_CONTINUE or
 * the usage error. */
int split_group_option(const char *cmd, int opt, const char **group);
/* The options of exec and split pid: -b, -t, -i IFNAME, -h. */
extern const struct option split_group_opts[];

#endif /* VPNCTL_SUBCOMMANDS_H */
