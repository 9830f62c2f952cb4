/* gzip (RFC 1952) compression of a buffer into a stream, with zlib. */
#ifndef MPROFILE_REPORT_GZIP_WRITE_H
#define MPROFILE_REPORT_GZIP_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes data[0..len) to out as one gzip member.  The header has no file
 * name and a zero modification time, so the same data always gives the
 * same bytes.  0, or -1 when out of memory or on a write error. */
int gzip_write(FILE *out, const uint8_t *data, size_t len);

#endif
