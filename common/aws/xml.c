/* Element tree over expat. Character data is collected per open element in a small stack of
 * Bufs (one per depth), so text split across expat callbacks costs amortised appends. */
#include <errno.h>
#include <expat.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/aws/xml.h"
#include "common/buf.h"
#include "common/cleanup.h"

typedef struct XmlBuilder {
        XML_Parser parser;
        XmlNode *root;
        XmlNode *cur;
        unsigned depth;
        size_t n_nodes, max_nodes;
        size_t max_text;
        Buf text[XML_MAX_DEPTH + 1];
        int error;
        const char *why;
} XmlBuilder;

static void stop(XmlBuilder *b, int error, const char *why) {
        if (b->error == 0) {
                b->error = error;
                b->why = why;
        }
        XML_StopParser(b->parser, XML_FALSE);
}

static void node_free(XmlNode *n) {
        while (n) {
                XmlNode *next = n->next;

                node_free(n->children);
                free(n->name);
                free(n->text);
                free(n);
                n = next;
        }
}

XmlNode *xml_free(XmlNode *root) {
        node_free(root);
        return NULL;
}

static void append_child(XmlNode *parent, XmlNode *child) {
        /* the tail pointer keeps wide lists (ListObjectsV2: 1000 <Contents>) linear */
        if (parent->last_child)
                parent->last_child->next = child;
        else
                parent->children = child;
        parent->last_child = child;
}

static void on_start(void *userdata, const XML_Char *name, const XML_Char **attrs) {
        XmlBuilder *b = userdata;
        const char *local = strrchr(name, '|');
        XmlNode *n;

        if (b->error)
                return;
        if (b->depth >= XML_MAX_DEPTH)
                return stop(b, -EBADMSG, "XML nested too deep");
        if (++b->n_nodes > b->max_nodes)
                return stop(b, -EBADMSG, "XML has too many elements");
        if (b->cur == NULL && b->root)
                return stop(b, -EBADMSG, "XML has two root elements");

        n = calloc(1, sizeof(*n));
        if (!n)
                return stop(b, -ENOMEM, "out of memory");
        n->name = strdup(local ? local + 1 : name);
        if (!n->name) {
                free(n);
                return stop(b, -ENOMEM, "out of memory");
        }
        n->parent = b->cur;
        if (b->cur)
                append_child(b->cur, n);
        else
                b->root = n;
        b->cur = n;
        b->depth++;
        buf_init(&b->text[b->depth], b->max_text);
}

static void on_end(void *userdata, const XML_Char *name) {
        XmlBuilder *b = userdata;
        Buf *t;

        if (b->error || !b->cur)
                return;
        t = &b->text[b->depth];
        b->cur->text_len = t->len;
        b->cur->text = t->data ? buf_steal(t) : strdup("");
        if (!b->cur->text)
                return stop(b, -ENOMEM, "out of memory");
        b->cur = b->cur->parent;
        b->depth--;
}

static void on_text(void *userdata, const XML_Char *s, int len) {
        XmlBuilder *b = userdata;

        if (b->error || !b->cur || len <= 0)
                return;
        if (buf_append(&b->text[b->depth], s, (size_t) len) < 0)
                stop(b, -EBADMSG, "XML text too long");
}

static void on_doctype(void *userdata, const XML_Char *name, const XML_Char *sysid,
                       const XML_Char *pubid, int has_internal_subset) {
        /* AWS never sends a DTD; refusing it rules out entity expansion attacks entirely */
        stop(userdata, -EBADMSG, "XML with a DOCTYPE refused");
}

static void builder_done(XmlBuilder *b) {
        for (unsigned i = 0; i <= XML_MAX_DEPTH; i++)
                buf_done(&b->text[i]);
        xml_free(b->root);
}

int xml_parse(const char *data, size_t n, size_t max_nodes, XmlNode **ret, S3bError *err) {
        _cleanup_(XML_ParserFreep) XML_Parser parser = NULL;
        _cleanup_(builder_done) XmlBuilder b = {
                .max_nodes = max_nodes ? max_nodes : XML_MAX_NODES_DEFAULT,
                .max_text = n,
        };

        if (n > INT_MAX)
                return s3b_error_set(err, -EBADMSG, "XML document too large");
        b.parser = parser = XML_ParserCreateNS(NULL, '|');
        if (!parser)
                return s3b_error_set(err, -ENOMEM, "XML parser: out of memory");
        XML_SetUserData(parser, &b);
        XML_SetElementHandler(parser, on_start, on_end);
        XML_SetCharacterDataHandler(parser, on_text);
        XML_SetStartDoctypeDeclHandler(parser, on_doctype);

        if (XML_Parse(parser, data, (int) n, XML_TRUE) != XML_STATUS_OK && b.error == 0)
                return s3b_error_set(err, -EBADMSG, "malformed XML at line %lu: %s",
                                     (unsigned long) XML_GetCurrentLineNumber(parser),
                                     XML_ErrorString(XML_GetErrorCode(parser)));
        if (b.error)
                return s3b_error_set(err, b.error, "%s", b.why);
        if (!b.root || b.cur)
                return s3b_error_set(err, -EBADMSG, "XML document without a complete root element");
        *ret = TAKE_PTR(b.root);
        return 0;
}

const XmlNode *xml_child(const XmlNode *n, const char *name) {
        if (!n)
                return NULL;
        for (const XmlNode *c = n->children; c; c = c->next)
                if (strcmp(c->name, name) == 0)
                        return c;
        return NULL;
}

const XmlNode *xml_next_same(const XmlNode *n) {
        if (!n)
                return NULL;
        for (const XmlNode *c = n->next; c; c = c->next)
                if (strcmp(c->name, n->name) == 0)
                        return c;
        return NULL;
}

const XmlNode *xml_path(const XmlNode *n, const char *path) {
        char step[128];

        while (n && *path) {
                size_t k = strcspn(path, "/");

                if (k >= sizeof(step))
                        return NULL;
                memcpy(step, path, k);
                step[k] = '\0';
                n = xml_child(n, step);
                path += k;
                if (*path == '/')
                        path++;
        }
        return n;
}

const char *xml_text(const XmlNode *n) {
        return n && n->text ? n->text : "";
}
