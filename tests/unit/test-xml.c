#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/aws/xml.h"

static void test_xml_tree(void **state) {
        const char *doc = "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                          "<Name>b</Name><Contents><Key>a&amp;b</Key><Size>3</Size></Contents>"
                          "<Contents><Key>c</Key><Size>4</Size></Contents><IsTruncated>false</IsTruncated>"
                          "</ListBucketResult>";
        XmlNode *root = NULL;
        const XmlNode *c;
        int n = 0;

        assert_int_equal(xml_parse(doc, strlen(doc), 0, &root, NULL), 0);
        assert_string_equal(root->name, "ListBucketResult");
        assert_string_equal(xml_text(xml_child(root, "Name")), "b");
        for (c = xml_child(root, "Contents"); c; c = xml_next_same(c))
                n++;
        assert_int_equal(n, 2);
        assert_string_equal(xml_text(xml_path(root, "Contents/Key")), "a&b");
        assert_null(xml_path(root, "Contents/Nope"));
        assert_string_equal(xml_text(NULL), "");
        xml_free(root);
}

static void test_xml_refuses(void **state) {
        const char *dtd = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
                          "<Error><Code>&b;</Code></Error>";
        char deep[32 * 3 + 40 * 7 + 1] = "";
        XmlNode *root = (XmlNode *) 0x1;
        S3bError e = {};

        assert_int_equal(xml_parse(dtd, strlen(dtd), 0, &root, &e), -EBADMSG);
        assert_ptr_equal(root, (XmlNode *) 0x1);        /* untouched */
        for (int i = 0; i < 40; i++)
                strcat(deep, "<a>");
        assert_int_equal(xml_parse(deep, strlen(deep), 0, &root, &e), -EBADMSG);
        assert_int_equal(xml_parse("<a/><b/>", 8, 0, &root, &e), -EBADMSG);
        assert_int_equal(xml_parse("<a><b/><b/><b/></a>", 19, 3, &root, &e), -EBADMSG);
        assert_int_equal(xml_parse("", 0, 0, &root, &e), -EBADMSG);
        assert_int_equal(xml_parse("<a>", 3, 0, &root, &e), -EBADMSG);
}

static void test_xml_text_and_namespaces(void **state) {
        const char *doc = "<s3:Error xmlns:s3=\"urn:x\"><s3:Code>A<!-- c -->B&lt;C</s3:Code>"
                          "<Empty/><Split><![CDATA[x]]>y</Split></s3:Error>";
        XmlNode *root = NULL;

        assert_int_equal(xml_parse(doc, strlen(doc), 0, &root, NULL), 0);
        assert_string_equal(root->name, "Error");
        assert_string_equal(xml_text(xml_child(root, "Code")), "AB<C");
        assert_int_equal(xml_child(root, "Code")->text_len, 4);
        assert_string_equal(xml_text(xml_child(root, "Empty")), "");
        assert_string_equal(xml_text(xml_child(root, "Split")), "xy");
        assert_null(xml_next_same(xml_child(root, "Code")));
        xml_free(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_xml_tree),
                cmocka_unit_test(test_xml_refuses),
                cmocka_unit_test(test_xml_text_and_namespaces),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
