/* JSON strings that are safe inside an HTML <script> element.
 *
 * The HTML report embeds its data as JSON in <script type="application/json">;
 * file names and function names are hostile input, and such an element ends
 * at the first "</script" whatever JSON thinks of it.  Every '<', '>' and
 * '&' is therefore written as a \u escape, which JSON.parse reads back as the
 * character, so no tag, comment or character reference can start inside the
 * element. */
#ifndef MPROFILE_REPORT_HTML_JSON_H
#define MPROFILE_REPORT_HTML_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Write s[0..len) as a quoted JSON string: '"' and '\' escaped, control
 * characters, DEL, '<', '>', '&', U+2028 and U+2029 as \u escapes; an encoded
 * surrogate (Python's surrogatepass) as its \udXXX escape; any byte that does
 * not start a valid UTF-8 sequence as \ufffd.  The output is ASCII except for
 * valid UTF-8 sequences copied as they are. */
void html_json_string(FILE *out, const char *s, size_t len);
void html_json_cstr(FILE *out, const char *s);

#endif
