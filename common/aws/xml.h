/* XmlNode: a small read-only element tree of an AWS XML response, built with expat.
 *
 * AWS's XML (S3 REST, SNS query, error documents) is small, element-only data: no mixed
 * content, no attributes we need, no DTD. The parser keeps element local names (namespace
 * stripped) and their text, refuses any DOCTYPE (no entity expansion can happen), and caps
 * the element count and depth so a hostile body fails with -EBADMSG instead of eating memory.
 * The root and every node are owned by the tree; xml_free(root) releases it all. */
#pragma once

#include <stddef.h>

#include "common/error.h"
#include "common/util.h"

typedef struct XmlNode XmlNode;
struct XmlNode {
        char *name;             /* local name, e.g. "Code" for <s3:Code> */
        char *text;             /* concatenated character data, never NULL */
        size_t text_len;
        XmlNode *parent;
        XmlNode *children;      /* first child */
        XmlNode *last_child;
        XmlNode *next;          /* next sibling */
};

#define XML_MAX_NODES_DEFAULT 200000
#define XML_MAX_DEPTH 32

/* Parses a whole document; max_nodes 0 = XML_MAX_NODES_DEFAULT. -EBADMSG on malformed XML,
 * a DOCTYPE, or a limit exceeded; -ENOMEM. */
int xml_parse(const char *data, size_t n, size_t max_nodes, XmlNode **ret, S3bError *err);
XmlNode *xml_free(XmlNode *root);
DEFINE_CLEANUP_FUNC(XmlNode *, xml_free);

/* First child named name, or NULL; n may be NULL. */
const XmlNode *xml_child(const XmlNode *n, const char *name);
/* Next sibling after n with the same name as n, or NULL. */
const XmlNode *xml_next_same(const XmlNode *n);
/* Follows "A/B/C" from n's children; NULL when any step is missing. */
const XmlNode *xml_path(const XmlNode *n, const char *path);
/* Text of a node, "" for NULL. */
const char *xml_text(const XmlNode *n);
