/*
 * cmd_impression.h - `seald impression` (cmd_impression.c): the picture of
 * a seal's impression, drawn from a template or taken from a scan.
 */
#ifndef SEALD_CMD_IMPRESSION_H
#define SEALD_CMD_IMPRESSION_H

/* argv[0] is "impression"; returns the exit status (0, 1, 64). */
int cmd_impression(int argc, char **argv);

#endif
