/* JsonLine: one line of JSON Lines text parsed with cJSON, numbers kept as written.
 *
 * cJSON turns every number into a double, which would round a 20-digit ID that DynamoDB keeps
 * exactly (38 significant digits, "Supported data types and naming rules"). So a line is
 * first scanned once: every number literal is checked against the JSON grammar (RFC 8259 §6)
 * and rewritten as a string starting with the byte 0xFF, which no decoded JSON string can
 * hold (the line is valid UTF-8 and a \u escape always decodes to valid UTF-8). The same scan
 * refuses what cJSON would let through and a DynamoDB value must not carry: raw control
 * characters (a NUL would end the text early), the escape \u0000 (cJSON would cut the string
 * there), and any byte outside a string that JSON does not allow (a mid-file BOM). The line
 * is bounded by max_row_bytes, so the copy and the tree are too.
 *
 * The scratch buffer is reused from line to line. One thread at a time. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/util.h"

typedef struct JsonLine {
        Buf text;
} JsonLine;

/* max bounds the rewritten text: a number grows by 3 bytes, so 4 × the longest line. */
void json_line_init(JsonLine *j, size_t max);
void json_line_done(JsonLine *j);

/* 0 with the tree in *ret (the caller cJSON_Delete()s it), 1 with *ret_why when the line is
 * not one JSON value as described above, or -ENOMEM / -ENOBUFS (codes only, per line on the
 * row path: common/ingest names the line). */
int json_line_parse(JsonLine *j, const char *line, size_t n, cJSON **ret, const char **ret_why);

/* The literal of a number from json_line_parse(): true with its text, false for any other
 * value. */
bool json_number_text(const cJSON *v, const char **ret, size_t *ret_len);

/* A real string (not a rewritten number). */
bool json_is_text(const cJSON *v);

/* "a string", "a number", "an object", ... for messages. */
const char *json_kind(const cJSON *v);
