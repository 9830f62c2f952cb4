#include "html_json.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 when it is
 * not one.  Encoded surrogates are left to the caller (not valid here). */
static size_t utf8_length(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void html_json_string(FILE *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc((int)c, out);
            i++;
        } else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&') {
            fprintf(out, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            fputc((int)c, out);
            i++;
        } else if (c == 0xed && i + 2 < len && (p[i + 1] & 0xe0) == 0xa0 &&
                   (p[i + 2] & 0xc0) == 0x80) {
            unsigned cp = ((c & 0x0fu) << 12) | ((p[i + 1] & 0x3fu) << 6) | (p[i + 2] & 0x3fu);
            fprintf(out, "\\u%04x", cp);
            i += 3;
        } else {
            size_t n = utf8_length(p + i, len - i);
            if (n == 0) {
                fputs("\\ufffd", out);
                i++;
            } else if (n == 3 && c == 0xe2 && p[i + 1] == 0x80 &&
                       (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
                /* Line and paragraph separators end a line in older
                 * JavaScript parsers. */
                fprintf(out, "\\u%04x", p[i + 2] == 0xa8 ? 0x2028u : 0x2029u);
                i += n;
            } else {
                fwrite(p + i, 1, n, out);
                i += n;
            }
        }
    }
    fputc('"', out);
}

void html_json_cstr(FILE *out, const char *s)
{
    html_json_string(out, s, strlen(s));
}
