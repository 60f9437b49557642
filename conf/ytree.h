/* YNode: a YAML document as a small tree of mappings, sequences and scalars, each node
 * remembering the 1-based line and column where it starts, so every config error can point at
 * the exact spot in the file.
 *
 * Built from libyaml's event API with the rules a configuration file should follow and plain
 * YAML does not enforce: exactly one document, no duplicate keys, no anchors/aliases (they make
 * "where is this value from" ambiguous and enable billion-laughs expansion), no tags, UTF-8
 * text only, and hard caps on size, depth and node count so hostile input stays cheap.
 * The tree owns all its strings; ynode_free() releases the whole tree. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"
#include "conf/diag.h"

#define YTREE_MAX_BYTES   (1024 * 1024)  /* a config is a few KiB; anything near this is not one */
#define YTREE_MAX_DEPTH   32
#define YTREE_MAX_NODES   100000
#define YTREE_MAX_PAIRS   1024           /* keys per mapping; keeps duplicate detection cheap */

typedef enum YNodeType {
        YNODE_SCALAR,
        YNODE_MAPPING,
        YNODE_SEQUENCE,
} YNodeType;

typedef struct YNode YNode;

typedef struct YPair {
        YNode *key;
        YNode *value;
} YPair;

struct YNode {
        YNodeType type;
        unsigned line, column;          /* 1-based */
        /* YNODE_SCALAR: NUL-terminated, never contains a NUL byte */
        char *value;
        size_t len;
        bool plain;                     /* unquoted: "~", "null" and "" may mean null */
        /* YNODE_MAPPING, in document order */
        YPair *pairs;
        size_t n_pairs;
        /* YNODE_SEQUENCE */
        YNode **items;
        size_t n_items;
};

YNode *ynode_free(YNode *n);
DEFINE_CLEANUP_FUNC(YNode *, ynode_free);

/* Parses data[0..len) (need not be NUL-terminated). Returns 0 and the root node in *ret, or
 * -EINVAL after adding every problem found to diag (syntax errors stop the parse; duplicate
 * keys, anchors and tags are all collected), or -ENOMEM. */
int ytree_parse(const char *data, size_t len, DiagList *diag, YNode **ret);

/* Value node for key in a mapping, or NULL (also when map is not a mapping). */
const YNode *ynode_get(const YNode *map, const char *key);

/* An unquoted empty, "~" or "null" scalar: YAML's null. */
bool ynode_is_null(const YNode *n);

/* "a mapping", "a list", "a string" — for "expected X, got Y" messages. */
const char *ynode_kind(const YNode *n);
