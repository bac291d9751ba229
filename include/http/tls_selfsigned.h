/*
 * tls_selfsigned.h - writes the development instance's TLS certificate.
 */
#ifndef SEALD_TLS_SELFSIGNED_H
#define SEALD_TLS_SELFSIGNED_H

#include "err.h"

/* Generate an ECDSA P-256 key and a self-signed certificate for localhost,
 * 127.0.0.1 and ::1; write the key (0600) and certificate (0644). */
err_code tls_selfsigned_write(const char *cert_path, const char *key_path,
                              struct err *e);

#endif
