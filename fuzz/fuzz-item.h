/* Checks the fuzz targets share on what ingest hands out. */
#pragma once

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* An item must be one well-formed JSON object: NUL-free, no raw control character, strings
 * closed, braces and brackets balanced. Aborts otherwise (the fuzzer's finding). */
static inline void fuzz_check_item_json(const char *j, size_t n) {
        int depth = 0;
        bool in_str = false;

        if (strlen(j) != n || n < 2 || j[0] != '{' || j[n - 1] != '}')
                abort();
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) j[i];

                if (c < 0x20)
                        abort();
                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = false;
                        continue;
                }
                if (c == '"')
                        in_str = true;
                else if (c == '{' || c == '[')
                        depth++;
                else if ((c == '}' || c == ']') && --depth < 0)
                        abort();
        }
        if (depth != 0 || in_str)
                abort();
}
