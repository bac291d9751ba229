/*
 * cmd_datakey.h - `seald data-key` (cmd_datakey.c): the data keys of
 * encryption at rest.
 */
#ifndef SEALD_CMD_DATAKEY_H
#define SEALD_CMD_DATAKEY_H

/* seald data-key list|rotate|encrypt --config FILE ...; the exit status. */
int cmd_data_key(int argc, char **argv);

#endif
