/* The files of the HTML page (tools/report/html/), compiled in by
 * tools/report/html/embed.cmake.  Each array holds the file's bytes and a
 * final NUL; _len does not count it. */
#ifndef MPROFILE_REPORT_HTML_ASSETS_H
#define MPROFILE_REPORT_HTML_ASSETS_H

#include <stddef.h>

extern const unsigned char html_asset_template[];
extern const size_t html_asset_template_len;
extern const unsigned char html_asset_css[];
extern const size_t html_asset_css_len;
extern const unsigned char html_asset_js[];
extern const size_t html_asset_js_len;

#endif
