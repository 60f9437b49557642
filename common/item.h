/* ItemBuilder: one DynamoDB item in the JSON 1.0 wire form, written by hand into a reused Buf.
 *
 * {"name":{"S":"text"},"n":{"N":"12.5"},"ok":{"BOOL":true}} — an AttributeValue map as
 * PutItem's Item and BatchWriteItem's PutRequest.Item take it. No per-attribute allocation: the
 * builder keeps its buffer between items. Alongside the JSON it adds up the item's size the
 * way DynamoDB counts it against the 400 KB limit ("Item sizes and formats" in the DynamoDB
 * developer guide): UTF-8 bytes of each attribute name plus its value, a number taking one
 * byte per two significant digits (as aligned pairs, item_number_size()) plus one, plus one
 * when negative, a boolean one byte.
 *
 * Values must be valid UTF-8 (the CSV parser guarantees it); bytes ≥ 0x80 are passed through,
 * quotes, backslashes and control characters are escaped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define ITEM_MAX_SIZE ((size_t) 400 * 1024)

typedef enum ItemType {
        ITEM_S,
        ITEM_N,
        ITEM_BOOL,
} ItemType;

/* An attribute name prepared once per column: its JSON key and its DynamoDB size. */
typedef struct ItemName {
        char *json;             /* "name": (escaped, quoted, with the colon) */
        size_t json_len;
        size_t size;            /* UTF-8 bytes of the name */
        char *open[3];          /* per ItemType: ,"name":{"S":"  — one copy per attribute */
        size_t open_len[3];     /* without the leading comma */
} ItemName;

int item_name_init(ItemName *n, const char *name);
void item_name_done(ItemName *n);

typedef struct ItemBuilder {
        Buf json;
        size_t size;            /* DynamoDB item size so far */
        size_t n_attrs;
        /* Verdict only (item_builder_set_size_only()): no JSON is written, json stays empty;
         * size, the value checks and the bound are the same. json_bound is then an upper
         * bound on the JSON the item would have had. */
        bool size_only;
        size_t json_bound;
} ItemBuilder;

/* max_json bounds the JSON text (-ENOBUFS past it). The builder runs per value on the row
 * path and returns codes only (-ENOBUFS, -ENOMEM, -EINVAL); the schema's caller names the
 * line (common/ingest). */
void item_builder_init(ItemBuilder *b, size_t max_json);
void item_builder_done(ItemBuilder *b);

/* Verdict only, for `validate`: the item's JSON is not written, only its DynamoDB size added
 * up, so every row gets the verdict the writing path gives it for less work. The one verdict
 * that depends on the JSON is "item too large" (-ENOBUFS past max_json), so the builder keeps
 * an upper bound on the JSON length (every value byte escaped): while it stays within
 * max_json the JSON would have fitted too; where it would not, the builder cannot tell
 * without escaping and returns -E2BIG, for the caller to build that item in full (turn this
 * off, run the row again, turn it back on). Takes effect at the next item_begin(). */
void item_builder_set_size_only(ItemBuilder *b, bool on);

int item_begin(ItemBuilder *b);
/* ITEM_S: v is the text. ITEM_N: v is a number already in DynamoDB form (not checked here).
 * ITEM_BOOL: v is "true" or "false" (else -EINVAL). -ENOBUFS when the JSON would pass max;
 * size only: -E2BIG when it might (see item_builder_set_size_only()). */
int item_add(ItemBuilder *b, const ItemName *name, ItemType t, const char *v, size_t n);
/* item_add() with the value's DynamoDB size already known (a number's, from its parse:
 * item_number_size_digits()); it must be what item_add() would count. */
int item_add_sized(ItemBuilder *b, const ItemName *name, ItemType t, const char *v, size_t n,
                   size_t value_size);
/* Appends an attribute whose AttributeValue JSON (e.g. {"SS":["a","b"]}, {"M":{...}},
 * {"NULL":true}) is already built, with its DynamoDB size (value only, the name's bytes are
 * added here). -ENOBUFS when the JSON would pass max; size only: -E2BIG when it might. */
int item_add_raw(ItemBuilder *b, const ItemName *name, const char *av, size_t n, size_t value_size);
/* -ENOBUFS when the JSON would pass max; size only: -E2BIG when it might. */
int item_end(ItemBuilder *b);

/* Appends s as the inside of a JSON string (no surrounding quotes). */
int json_escape_append(Buf *b, const char *s, size_t n);

/* Worst-case JSON size of one escaped byte: \u00XX. */
#define JSON_ESCAPE_MAX 6

/* DynamoDB's size of a number given as text ([-]digits[.digits][E[-]digits]): one byte per
 * base-100 digit pair its significant digits occupy, plus one, plus one when negative. */
size_t item_number_size(const char *v, size_t n);
/* The same from where its significant digits are: e_first the power of ten of the first
 * non-zero digit, digits (≥ 1) how many from it to the last non-zero one. A parser that has
 * these (schema.c) need not scan the text again. */
size_t item_number_size_digits(long e_first, size_t digits, bool neg);
