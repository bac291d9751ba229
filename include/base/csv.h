/*
 * csv.h - the one CSV writer, for every export a person opens in a
 * spreadsheet (the audit log, the usage report).  RFC 4180: fields separated
 * by commas, rows ended by CRLF, every text field in double quotes with
 * quotes doubled, so a comma, quote or line break in a value stays inside
 * its field.  And formula-injection guarded: a text field that begins with
 * = + - @ TAB or CR (what Excel, LibreOffice and Sheets take as the start of
 * a formula) gets a leading apostrophe, so a seal named
 * =HYPERLINK("http://x","y") is shown as text, never run.  Numbers are
 * written by csv_int, unguarded (a negative number stays a number).
 */
#ifndef SEALD_CSV_H
#define SEALD_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A document being written.  Initialise with csv_init; the buffer is
 * malloc'ed and always NUL-terminated once anything was written. */
struct csv {
    char   *buf;
    size_t  len, cap;
    size_t  max;        /* the most bytes the document may reach */
    int     fields;     /* fields written on the current row */
};

/* Start an empty document of at most max bytes (0: no bound). */
void csv_init(struct csv *w, size_t max);

/* Append one text field (NULL is written as an empty field), quoted and
 * guarded as above.  ERR_TOO_LARGE past max, ERR_NOMEM. */
err_code csv_text(struct csv *w, const char *s, struct err *e);

/* Append one integer field, unquoted. */
err_code csv_int(struct csv *w, int64_t v, struct err *e);

/* End the current row (CRLF). */
err_code csv_end_row(struct csv *w, struct err *e);

/* A whole row of n text fields (a header), ended. */
err_code csv_text_row(struct csv *w, const char *const *fields, size_t n,
                      struct err *e);

/* Forget what was written but keep the buffer (to write row by row). */
void csv_clear(struct csv *w);

/* Hand the document over: *out (malloc'ed, at least one byte so never
 * NULL on success; the caller frees) and *len; w is empty afterwards. */
err_code csv_take(struct csv *w, char **out, size_t *len, struct err *e);

/* Free the buffer; w is empty afterwards. */
void csv_free(struct csv *w);

#endif
