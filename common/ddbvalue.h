/* DynamoDB AttributeValues from JSON: plain JSON converted (JSON Lines map/list columns), and
 * DynamoDB JSON checked (ddb-json input, one {"Item": {...}} per line as DynamoDB's export to
 * S3 writes it, "DynamoDB data export to Amazon S3: output format").
 *
 * Both write the AttributeValue's wire JSON into a Buf and add up its size the way DynamoDB
 * counts it ("Item sizes and formats"): S its UTF-8 bytes, N item_number_size(), B its raw
 * bytes, BOOL and NULL one byte, a set the sum of its elements, M and L 3 bytes plus each
 * element's size plus one byte per element (and a map element its name's bytes).
 *
 * The rules a value must follow, from "Supported data types and naming rules": N at most 38
 * significant digits within 1E-130..9.99E+125; a set non-empty and without duplicates (NS by
 * value: 1 and 1.0 are one), empty strings allowed in it; M and L nested at most 32 levels;
 * NULL only true; B base64. A map key may not repeat. Values come from json_line_parse(). */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/util.h"

#define DDB_MAX_DEPTH 32

typedef struct DdbConv {
        Buf canon;              /* scratch: one canonical number */
        Buf keys;               /* scratch: set elements' comparable forms */
} DdbConv;

void ddb_conv_init(DdbConv *c);
void ddb_conv_done(DdbConv *c);

/* Plain JSON → AttributeValue: string S, number N, true/false BOOL, null NULL, array L,
 * object M. Appends to out, adds the size to *size. 0, 1 with *ret_why, or < 0 (-ENOMEM,
 * -ENOBUFS: codes only, per value on the row path; the caller names the line). */
int ddb_from_json(DdbConv *c, const cJSON *v, Buf *out, size_t *size, const char **ret_why);

/* One DynamoDB-JSON AttributeValue ({"S": "..."}, {"NS": ["1"]}, {"M": {...}}, ...) checked
 * and written back. *ret_type gets its type descriptor ("S", "N", "B", ..., static). */
int ddb_check_av(DdbConv *c, const cJSON *av, Buf *out, size_t *size, const char **ret_type,
                 const char **ret_why);

/* Raw length of a strict base64 text (RFC 4648 §4, padded, zero trailing bits), or -1. */
long ddb_base64_len(const char *s, size_t n);
