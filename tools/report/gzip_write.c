#include "gzip_write.h"

#include <zlib.h>

int gzip_write(FILE *out, const uint8_t *data, size_t len)
{
    z_stream z = {0};
    /* windowBits 15 + 16: the gzip wrapper instead of zlib's; zlib writes
     * its default header (no name, mtime 0, OS unix). */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    unsigned char chunk[65536];
    int rc = 0, flush;
    do {
        /* avail_in is an unsigned int: feed larger buffers in pieces. */
        if (z.avail_in == 0) {
            size_t piece = len < (1u << 30) ? len : (1u << 30);
            z.next_in = (Bytef *)(uintptr_t)data;
            z.avail_in = (uInt)piece;
            data += piece;
            len -= piece;
        }
        flush = len == 0 ? Z_FINISH : Z_NO_FLUSH;
        do {
            z.next_out = chunk;
            z.avail_out = sizeof chunk;
            int zrc = deflate(&z, flush);
            if (zrc == Z_STREAM_ERROR) {
                rc = -1;
                goto out;
            }
            size_t have = sizeof chunk - z.avail_out;
            if (have && fwrite(chunk, 1, have, out) != have) {
                rc = -1;
                goto out;
            }
        } while (z.avail_out == 0);
    } while (flush != Z_FINISH);
out:
    deflateEnd(&z);
    return rc;
}
