/* conf/: the example loads with the right values; every invalid config fails with the exact
 * FILE:LINE:COLUMN: message; hostile input (binary, NUL, huge, deep) fails cleanly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conf/check.h"
#include "conf/config.h"

/* The smallest valid file; invalid cases below are built from its pieces, so the line
 * numbers in their expected messages can be read off the strings. */
#define HEAD                                                                                  \
        "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\" }\n" /* 1 */   \
        "archive: { bucket: archival-bucket }\n"                                   /* 2 */   \
        "errors: { bucket: error-bucket }\n"                                       /* 3 */
#define PIPE                                                                                  \
        "pipelines:\n"                                                  /* n   */             \
        "  - name: students\n"                                          /* n+1 */             \
        "    match: { bucket: inbound-file-drop, suffix: .csv }\n"      /* n+2 */             \
        "    table: PRELIM_STUDENT_DATA\n"                              /* n+3 */             \
        "    columns:\n"                                                /* n+4 */             \
        "      - { name: student_id, type: string, required: true }\n"  /* n+5 */             \
        "      - { name: course, type: string, required: true }\n"      /* n+6 */             \
        "    key: { partition: student_id, sort: course }\n"            /* n+7 */
/* A pipeline header for cases that write their own columns/key, starting at line 4. */
#define PIPE_TOP                                                                              \
        "pipelines:\n"                                                  /* 4 */               \
        "  - name: students\n"                                          /* 5 */               \
        "    match: { bucket: inbound-file-drop, suffix: .csv }\n"      /* 6 */               \
        "    table: PRELIM_STUDENT_DATA\n"                              /* 7 */

typedef struct Case {
        const char *name;
        const char *yaml;
        const char *expect;     /* one diagnostic, exactly */
} Case;

static int load(const char *yaml, size_t len, Config **ret, ConfigDiag *diag) {
        return config_load_from_string("t.yaml", yaml, len, ret, diag);
}

static void dump(const ConfigDiag *d) {
        for (size_t i = 0; i < d->n_lines; i++)
                print_message("  diag[%zu] %s\n", i, d->lines[i]);
}

static bool diag_contains(const ConfigDiag *d, const char *part) {
        for (size_t i = 0; i < d->n_lines; i++)
                if (strstr(d->lines[i], part))
                        return true;
        return false;
}

/* Loads yaml, expects -EINVAL and exactly the one diagnostic. */
static void run_case(void **state) {
        const Case *c = *state;
        ConfigDiag d = {};
        Config *cfg = NULL;
        int r;

        r = load(c->yaml, strlen(c->yaml), &cfg, &d);
        if (r != -EINVAL || d.n_lines != 1 || strcmp(d.lines[0], c->expect) != 0) {
                print_message("case %s: r=%d, expected:\n  %s\ngot:\n", c->name, r, c->expect);
                dump(&d);
        }
        assert_int_equal(r, -EINVAL);
        assert_null(cfg);
        assert_int_equal(d.n_lines, 1);
        assert_string_equal(d.lines[0], c->expect);
        config_diag_done(&d);
}

static const Case cases[] = {
        /* structure and keys */
        { "unknown-top-key", HEAD "worker: 4\n" PIPE,
          "t.yaml:4:1: worker: unknown key, did you mean 'workers'?" },
        { "unknown-nested-key",
          "queue:\n  url: https://sqs.ap-south-1.amazonaws.com/123456789012/q\n  wait_second: 5\n"
          "archive: { bucket: archival-bucket }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:3:3: queue.wait_second: unknown key, did you mean 'wait_seconds'?" },
        { "unknown-key-no-hint", HEAD "colour: blue\n" PIPE, "t.yaml:4:1: colour: unknown key" },
        { "key-in-wrong-section", HEAD "wait_seconds: 5\n" PIPE,
          "t.yaml:4:1: wait_seconds: unknown key here: it belongs under 'queue'" },
        { "csv-key-in-pipeline", HEAD PIPE "    delimiter: \";\"\n",
          "t.yaml:12:5: pipelines[0].delimiter: unknown key here: it belongs under a pipeline's 'csv'" },
        { "top-level-list", "- a\n- b\n", "t.yaml:1:1: the top level: expected a mapping, got a list" },
        { "section-wrong-type", HEAD "aws: [1, 2]\n" PIPE, "t.yaml:4:6: aws: expected a mapping, got a list" },
        { "missing-section", HEAD PIPE "notify: {}\n",
          "t.yaml:12:9: notify: missing required key 'topic_arn'" },
        { "missing-top-key", "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\" }\n"
          "errors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:1:1: missing required key 'archive'" },
        { "missing-queue-url", "queue: { wait_seconds: 5 }\n"
          "archive: { bucket: archival-bucket }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:1:8: queue: missing required key 'url'" },
        { "null-required", "queue: { url: }\n"
          "archive: { bucket: archival-bucket }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:1:15: queue.url: a value is required" },
        { "no-pipelines", HEAD "pipelines: []\n",
          "t.yaml:4:12: pipelines: 1 to 256 pipelines are required" },
        /* numbers */
        { "unknown-key-near-section", HEAD "queue2: 1\n" PIPE, "t.yaml:4:1: queue2: unknown key, did you mean 'queue'?" },
        { "wait-seconds-range",
          "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\", wait_seconds: 25 }\n"
          "archive: { bucket: archival-bucket }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:1:84: queue.wait_seconds: must be between 1 and 20, got 25" },
        { "retry-delay-order",
          "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\", retry_delay_min: 60, retry_delay_max: 50 }\n"
          "archive: { bucket: archival-bucket }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:1:108: queue.retry_delay_max: queue.retry_delay_max (50) must not be below queue.retry_delay_min (60)" },
        { "retry-delay-range",
          "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\", retry_delay_max: 43201 }\n"
          "archive: { bucket: archival-bucket }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:1:87: queue.retry_delay_max: must be between 1 and 43200, got 43201" },
        { "retry-delay-min-zero",
          "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\", retry_delay_min: 0 }\n"
          "archive: { bucket: archival-bucket }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:1:87: queue.retry_delay_min: must be between 1 and 43200, got 0" },
        { "workers-zero", HEAD "workers: 0\n" PIPE, "t.yaml:4:10: workers: must be between 1 and 256, got 0" },
        { "workers-text", HEAD "workers: four\n" PIPE, "t.yaml:4:10: workers: expected an integer, got 'four'" },
        { "workers-suffix", HEAD "workers: 4s\n" PIPE, "t.yaml:4:10: workers: expected an integer, got '4s'" },
        { "workers-float", HEAD "workers: 1e3\n" PIPE, "t.yaml:4:10: workers: expected an integer, got '1e3'" },
        { "workers-quoted", HEAD "workers: \"4\"\n" PIPE,
          "t.yaml:4:10: workers: expected an integer, got the quoted string \"4\" (remove the quotes)" },
        { "negative", HEAD "shutdown_grace: -5\n" PIPE,
          "t.yaml:4:17: shutdown_grace: must be between 0 and 3600, got -5" },
        { "overflow", HEAD "workers: 99999999999999999999999\n" PIPE,
          "t.yaml:4:10: workers: must be between 1 and 256, got 99999999999999999999999" },
        { "workers-list", HEAD "workers: [4]\n" PIPE, "t.yaml:4:10: workers: expected an integer, got a list" },
        { "bool-yes", HEAD "aws: { s3_force_path_style: yes }\n" PIPE,
          "t.yaml:4:29: aws.s3_force_path_style: expected true or false, got 'yes'" },
        { "log-level", HEAD "log_level: verbose\n" PIPE,
          "t.yaml:4:12: log_level: unknown value 'verbose' (expected one of: error, warning, notice, info, debug)" },
        { "request-timeout-vs-poll", HEAD "aws: { request_timeout_ms: 20000 }\n" PIPE,
          "t.yaml:4:28: aws.request_timeout_ms: must be longer than queue.wait_seconds (20 s), or every long poll times out" },
        { "metrics-relative", HEAD "metrics_file: s3batchd.prom\n" PIPE,
          "t.yaml:4:15: metrics_file: invalid value 's3batchd.prom': must be an absolute path" },
        /* names, URLs, ARNs */
        { "bucket-uppercase", "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\" }\n"
          "archive: { bucket: Archival_Bucket }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:2:20: archive.bucket: invalid value 'Archival_Bucket': only lowercase letters, digits, '.' and '-' are allowed" },
        { "bucket-ip", "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\" }\n"
          "archive: { bucket: 192.168.5.4 }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:2:20: archive.bucket: invalid value '192.168.5.4': must not look like an IP address" },
        { "bucket-short", "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\" }\n"
          "archive: { bucket: ab }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:2:20: archive.bucket: invalid value 'ab': must be 3 to 63 characters long" },
        { "prefix-slash", "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\" }\n"
          "archive: { bucket: archival-bucket, prefix: /done/ }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:2:45: archive.prefix: invalid value '/done/': S3 keys do not start with '/': write 'done/'" },
        { "queue-url-scheme", "queue: { url: \"ftp://sqs.ap-south-1.amazonaws.com/123456789012/q\" }\n"
          "archive: { bucket: archival-bucket }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:1:15: queue.url: invalid value 'ftp://sqs.ap-south-1.amazonaws.com/123456789012/q': must start with https:// or http://" },
        { "queue-url-path", "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/q\" }\n"
          "archive: { bucket: archival-bucket }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:1:15: queue.url: invalid value 'https://sqs.ap-south-1.amazonaws.com/q': the path must be /ACCOUNT-ID/QUEUE-NAME" },
        { "endpoint-credentials", HEAD "aws: { endpoints: { s3: \"http://key:secret@127.0.0.1:9000\" } }\n" PIPE,
          "t.yaml:4:25: aws.endpoints.s3: invalid value 'http://key:secret@127.0.0.1:9000': credentials in the URL are not allowed" },
        { "endpoint-port", HEAD "aws: { endpoints: { sqs: \"http://127.0.0.1:99999\" } }\n" PIPE,
          "t.yaml:4:26: aws.endpoints.sqs: invalid value 'http://127.0.0.1:99999': port must be 1..65535" },
        { "endpoint-unknown", HEAD "aws: { endpoints: { dynamo: \"http://127.0.0.1:8000\" } }\n" PIPE,
          "t.yaml:4:21: aws.endpoints.dynamo: unknown key, did you mean 'dynamodb'?" },
        { "region", HEAD "aws: { region: Mumbai }\n" PIPE,
          "t.yaml:4:16: aws.region: invalid value 'Mumbai': expected a region like 'ap-south-1'" },
        { "sns-arn-account", HEAD "notify: { topic_arn: \"arn:aws:sns:ap-south-1:1234:t\" }\n" PIPE,
          "t.yaml:4:22: notify.topic_arn: invalid value 'arn:aws:sns:ap-south-1:1234:t': the account id must be 12 digits" },
        { "sns-arn-service", HEAD "notify: { topic_arn: \"arn:aws:sqs:ap-south-1:123456789012:t\" }\n" PIPE,
          "t.yaml:4:22: notify.topic_arn: invalid value 'arn:aws:sqs:ap-south-1:123456789012:t': must start with arn:aws:sns:, arn:aws-cn:sns: or arn:aws-us-gov:sns:" },
        { "notify-on", HEAD "notify: { topic_arn: \"arn:aws:sns:ap-south-1:123456789012:t\", on: [success, failed] }\n" PIPE,
          "t.yaml:4:77: notify.on[1]: unknown value 'failed' (expected one of: success, partial, failure, superseded)" },
        { "notify-on-twice", HEAD "notify: { topic_arn: \"arn:aws:sns:ap-south-1:123456789012:t\", on: [failure, failure] }\n" PIPE,
          "t.yaml:4:77: notify.on[1]: 'failure' is listed twice" },
        { "queue-region", HEAD "aws: { region: eu-west-1 }\n" PIPE,
          "t.yaml:1:15: queue.url: the queue is in region 'ap-south-1' but aws.region is 'eu-west-1'" },
        { "topic-region", HEAD "aws: { region: ap-south-1 }\nnotify: { topic_arn: \"arn:aws:sns:us-east-1:123456789012:t\" }\n" PIPE,
          "t.yaml:5:22: notify.topic_arn: the topic is in region 'us-east-1' but aws.region is 'ap-south-1'" },
        { "notify-on-empty", HEAD "notify: { topic_arn: \"arn:aws:sns:ap-south-1:123456789012:t\", on: [] }\n" PIPE,
          "t.yaml:4:67: notify.on: an empty list publishes nothing; remove the notify section instead" },
        /* pipelines */
        { "table-name", HEAD PIPE_TOP "    table2: x\n" "    columns: [ { name: id, required: true } ]\n    key: { partition: id }\n",
          "t.yaml:8:5: pipelines[0].table2: unknown key, did you mean 'table'?" },
        { "pipeline-name", HEAD "pipelines:\n  - name: \"my pipeline\"\n    table: T_1\n"
          "    columns: [ { name: id, required: true } ]\n    key: { partition: id }\n",
          "t.yaml:5:11: pipelines[0].name: invalid value 'my pipeline': only letters, digits, '_', '-' and '.' are allowed" },
        { "key-missing-column", HEAD PIPE_TOP "    columns: [ { name: id, required: true } ]\n    key: { partition: student_id }\n",
          "t.yaml:9:23: pipelines[0].key.partition: no column named 'student_id' in columns" },
        { "key-case", HEAD PIPE_TOP "    columns: [ { name: id, required: true } ]\n    key: { partition: ID }\n",
          "t.yaml:9:23: pipelines[0].key.partition: no column named 'ID' (did you mean 'id'? key names are case-sensitive)" },
        { "key-not-required", HEAD PIPE_TOP "    columns: [ { name: id } ]\n    key: { partition: id }\n",
          "t.yaml:9:23: pipelines[0].key.partition: key column 'id' must be 'required: true' (every item needs its key)" },
        { "key-boolean", HEAD PIPE_TOP "    columns: [ { name: id, required: true }, { name: ok, type: boolean, required: true } ]\n"
          "    key: { partition: id, sort: ok }\n",
          "t.yaml:9:33: pipelines[0].key.sort: column 'ok' is a boolean; DynamoDB keys must be strings or numbers" },
        { "key-same", HEAD PIPE_TOP "    columns: [ { name: id, required: true } ]\n    key: { partition: id, sort: id }\n",
          "t.yaml:9:33: pipelines[0].key.sort: the sort key must differ from the partition key" },
        { "key-missing", HEAD PIPE_TOP "    columns: [ { name: id, required: true } ]\n",
          "t.yaml:5:5: pipelines[0]: missing required key 'key'" },
        { "column-duplicate", HEAD PIPE_TOP "    columns:\n      - { name: id, required: true }\n      - { name: Id }\n"
          "    key: { partition: id }\n",
          "t.yaml:10:17: pipelines[0].columns[1].name: duplicate column 'Id' (line 9; header names match case-insensitively)" },
        { "column-type", HEAD PIPE_TOP "    columns: [ { name: id, type: strng, required: true } ]\n    key: { partition: id }\n",
          "t.yaml:8:34: pipelines[0].columns[0].type: unknown value 'strng' (expected one of: string, integer, number, boolean, date, enum, string_set, number_set, map, list), did you mean 'string'?" },
        { "enum-no-values", HEAD PIPE_TOP "    columns: [ { name: id, required: true }, { name: g, type: enum } ]\n    key: { partition: id }\n",
          "t.yaml:8:46: pipelines[0].columns[1]: type enum needs its 'values: [...]'" },
        { "enum-dup-value", HEAD PIPE_TOP "    columns: [ { name: id, required: true }, { name: g, type: enum, values: [a, b, a] } ]\n"
          "    key: { partition: id }\n",
          "t.yaml:8:84: pipelines[0].columns[1].values[2]: 'a' is listed twice" },
        { "values-not-enum", HEAD PIPE_TOP "    columns: [ { name: id, required: true, values: [a] } ]\n    key: { partition: id }\n",
          "t.yaml:8:52: pipelines[0].columns[0].values: only allowed for type enum" },
        { "pattern-on-integer", HEAD PIPE_TOP "    columns: [ { name: id, type: integer, required: true, pattern: \"^[0-9]+$\" } ]\n"
          "    key: { partition: id }\n",
          "t.yaml:8:68: pipelines[0].columns[0].pattern: only allowed for type string or string_set" },
        { "pattern-invalid", HEAD PIPE_TOP "    columns: [ { name: id, required: true, pattern: \"^A[0-9\" } ]\n    key: { partition: id }\n",
          "t.yaml:8:53: pipelines[0].columns[0].pattern: not a valid POSIX extended regular expression: Unmatched [, [^, [:, [., or [=" },
        { "max-length-on-date", HEAD PIPE_TOP "    columns: [ { name: id, required: true }, { name: d, type: date, max_length: 10 } ]\n"
          "    key: { partition: id }\n",
          "t.yaml:8:81: pipelines[0].columns[1].max_length: only allowed for type string or string_set" },
        { "min-gt-max", HEAD PIPE_TOP "    columns: [ { name: id, required: true }, { name: n, type: integer, min: 10, max: 1 } ]\n"
          "    key: { partition: id }\n",
          "t.yaml:8:86: pipelines[0].columns[1].max: smaller than min" },
        { "required-yes", HEAD PIPE_TOP "    columns: [ { name: id, required: yes } ]\n    key: { partition: id }\n",
          "t.yaml:8:38: pipelines[0].columns[0].required: expected true or false, got 'yes'" },
        { "delimiter", HEAD PIPE "    csv: { delimiter: \":\" }\n",
          "t.yaml:12:23: pipelines[0].csv.delimiter: unsupported delimiter ':' (expected one of: \",\" \";\" \"|\" \"\\t\" or tab)" },
        { "header", HEAD PIPE "    csv: { header: yes }\n",
          "t.yaml:12:20: pipelines[0].csv.header: unknown value 'yes' (expected one of: required, absent)" },
        { "compression", HEAD PIPE "    csv: { compression: zip }\n",
          "t.yaml:12:25: pipelines[0].csv.compression: unknown value 'zip' (expected one of: auto, none, gzip), did you mean 'gzip'?" },
        { "null-values-scalar", HEAD PIPE "    csv: { null_values: NULL }\n",
          "t.yaml:12:25: pipelines[0].csv.null_values: expected a list, got nothing (null)" },
        { "field-gt-row", HEAD PIPE "    csv: { max_row_bytes: 2048, max_field_bytes: 4096 }\n",
          "t.yaml:12:50: pipelines[0].csv.max_field_bytes: larger than max_row_bytes (2048)" },
        { "write-mode", HEAD PIPE "    write_mode: validate\n",
          "t.yaml:12:17: pipelines[0].write_mode: unknown value 'validate' (expected one of: stream, validate_first), did you mean 'validate_first'?" },
        { "ordering-unknown", HEAD PIPE "    ordering: sorted\n",
          "t.yaml:12:15: pipelines[0].ordering: unknown value 'sorted' (expected one of: none, per_prefix, global)" },
        { "ordering-mode-typo", HEAD PIPE "    ordering: { mode: per-prefix }\n",
          "t.yaml:12:23: pipelines[0].ordering.mode: unknown value 'per-prefix' (expected one of: none, per_prefix, global), did you mean 'per_prefix'?" },
        { "ordering-no-mode", HEAD PIPE "    ordering: { window: 3 }\n",
          "t.yaml:12:15: pipelines[0].ordering: missing required key 'mode'" },
        { "ordering-bad-regex", HEAD PIPE "    ordering: { mode: per_prefix, group: { regex: \"([a-z]+\" } }\n",
          "t.yaml:12:51: pipelines[0].ordering.group.regex: not a valid POSIX extended regular expression: Unmatched ( or \\(" },
        { "ordering-bad-group", HEAD PIPE "    ordering: { mode: per_prefix, group: suffix }\n",
          "t.yaml:12:42: pipelines[0].ordering.group: unknown value 'suffix' (expected one of: prefix)" },
        { "ordering-group-global", HEAD PIPE "    ordering: { mode: global, group: prefix }\n",
          "t.yaml:12:38: pipelines[0].ordering.group: only allowed with mode per_prefix" },
        { "ordering-window-none", HEAD PIPE "    ordering: { mode: none, window: 2 }\n",
          "t.yaml:12:37: pipelines[0].ordering.window: only allowed with mode per_prefix or global" },
        { "ordering-window-range", HEAD PIPE "    ordering: { mode: global, window: 301 }\n",
          "t.yaml:12:39: pipelines[0].ordering.window: must be between 0 and 300, got 301" },
        { "max-rejected-negative", HEAD PIPE "    max_rejected_rows: -1\n",
          "t.yaml:12:24: pipelines[0].max_rejected_rows: must be at least 0, got -1" },
        { "write-capacity-zero", HEAD PIPE "    write_capacity: { units_per_second: 0 }\n",
          "t.yaml:12:41: pipelines[0].write_capacity.units_per_second: must be between 1 and 100000000, got 0" },
        { "write-capacity-negative", HEAD PIPE "    write_capacity: { units_per_second: -5 }\n",
          "t.yaml:12:41: pipelines[0].write_capacity.units_per_second: must be between 1 and 100000000, got -5" },
        { "write-capacity-missing", HEAD PIPE "    write_capacity: { instances: 2 }\n",
          "t.yaml:12:21: pipelines[0].write_capacity: missing required key 'units_per_second'" },
        { "write-capacity-instances-zero", HEAD PIPE "    write_capacity: { units_per_second: 10, instances: 0 }\n",
          "t.yaml:12:56: pipelines[0].write_capacity.instances: must be between 1 and 1024, got 0" },
        { "write-capacity-scalar", HEAD PIPE "    write_capacity: 100\n",
          "t.yaml:12:21: pipelines[0].write_capacity: expected a mapping, got a scalar" },
        { "write-concurrency-zero", HEAD PIPE "    write_concurrency: 0\n",
          "t.yaml:12:24: pipelines[0].write_concurrency: must be between 1 and 32, got 0" },
        { "write-concurrency-word", HEAD PIPE "    write_concurrency: fast\n",
          "t.yaml:12:24: pipelines[0].write_concurrency: expected an integer, got 'fast'" },
        { "archive-loop", "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\" }\n"
          "archive: { bucket: inbound-file-drop, prefix: done/ }\nerrors: { bucket: error-bucket }\n" PIPE,
          "t.yaml:6:12: pipelines[0].match: files moved to the archive (s3://inbound-file-drop/done/) would match this pipeline again; use another bucket or a prefix outside the pipeline's" },
        { "duplicate-pipeline", HEAD PIPE
          "  - name: students\n    match: { bucket: other-bucket }\n    table: T_2\n"
          "    columns: [ { name: id, required: true } ]\n    key: { partition: id }\n",
          "t.yaml:12:11: pipelines[1].name: duplicate pipeline name 'students' (first at line 5)" },
        { "budget-disagrees", HEAD PIPE
          "  - name: other\n    match: { bucket: other-bucket }\n    table: PRELIM_STUDENT_DATA\n"
          "    columns: [ { name: id, required: true } ]\n    key: { partition: id }\n"
          "    write_capacity: { units_per_second: 50 }\n",
          "t.yaml:17:21: pipelines[1]: writes table 'PRELIM_STUDENT_DATA' like pipeline 'students' but with another write_capacity (a table has one budget: give both the same)" },
        { "shadowed-pipeline", HEAD PIPE
          "  - name: late\n    match: { bucket: inbound-file-drop, prefix: in/, suffix: .csv }\n    table: T_2\n"
          "    columns: [ { name: id, required: true } ]\n    key: { partition: id }\n",
          "t.yaml:12:5: pipelines[1]: can never match: pipeline 'students' (line 5) comes first and takes every file it would" },
        { "ca-bundle-relative", HEAD "aws: { ca_bundle: ca.pem }\n" PIPE,
          "t.yaml:4:19: aws.ca_bundle: invalid value 'ca.pem': must be an absolute path" },
        { "ca-bundle-missing", HEAD "aws: { ca_bundle: /nonexistent/ca.pem }\n" PIPE,
          "t.yaml:4:19: aws.ca_bundle: invalid value '/nonexistent/ca.pem': cannot read: No such file or directory" },
        { "ca-bundle-device", HEAD "aws: { ca_bundle: /dev/null }\n" PIPE,
          "t.yaml:4:19: aws.ca_bundle: invalid value '/dev/null': is not a regular file" },
        { "ca-bundle-not-pem", HEAD "aws: { ca_bundle: /etc/passwd }\n" PIPE,
          "t.yaml:4:19: aws.ca_bundle: invalid value '/etc/passwd': holds no PEM certificate (-----BEGIN CERTIFICATE-----) in its first 64 KiB" },
        /* YAML-level rules */
        { "duplicate-key", HEAD "workers: 2\nworkers: 3\n" PIPE,
          "t.yaml:5:1: duplicate key 'workers' (first defined at line 4, column 1)" },
        { "anchor", HEAD "workers: &w 2\n" PIPE,
          "t.yaml:4:10: anchors and aliases are not supported (found '&w'): write the value out" },
        { "tag", HEAD "workers: !!int 2\n" PIPE,
          "t.yaml:4:10: YAML tags are not supported (found 'tag:yaml.org,2002:int')" },
        { "two-documents", HEAD PIPE "---\nworkers: 2\n",
          "t.yaml:12:1: a second YAML document: the file must hold exactly one" },
        { "syntax", HEAD "workers: [1, 2\n" PIPE,
          "t.yaml:5:10: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 4, column 10)" },
        { "tab-indent", HEAD "aws:\n\tregion: x\n" PIPE,
          "t.yaml:5:1: YAML syntax error: found character that cannot start any token (while scanning for the next token at line 5, column 1)" },
        { "nul-in-quoted", HEAD "log_level: \"in\\0fo\"\n" PIPE,
          "t.yaml:4:12: NUL character in a value is not allowed" },
        { "empty", "", "t.yaml:1:1: the file is empty: no YAML document" },
        { "only-comments", "# nothing here\n\n# really\n", "t.yaml:1:1: the file is empty: no YAML document" },
        { "invalid-utf8", HEAD "log_level: inf\xc3\x28o\n" PIPE,
          "t.yaml:4:15: invalid UTF-8 (byte 0xc3); the file must be UTF-8" },
        { "control-char", HEAD "log_level: in\x01" "fo\n" PIPE,
          "t.yaml:4:14: control character 0x01 is not allowed (binary file?)" },
        { "bom-crlf", "\xef\xbb\xbfworkers: \x01\r\n", "t.yaml:1:10: control character 0x01 is not allowed (binary file?)" },
        { "crlf-lines", HEAD "\r\n\r\nworkers: 0\r\n" PIPE, "t.yaml:6:10: workers: must be between 1 and 256, got 0" },
        /* columns count characters, not bytes */
        { "utf8-columns", HEAD "aws: { profile: \"\xc3\xa9\xc3\xa9\", region: x }\n" PIPE,
          "t.yaml:4:31: aws.region: invalid value 'x': expected a region like 'ap-south-1'" },
        { "utf16", "\xff\xfeq\0u\0", "t.yaml:1:1: invalid UTF-8 (byte 0xff); the file must be UTF-8" },
};

static Config *load_ok(const char *yaml) {
        ConfigDiag d = {};
        Config *cfg = NULL;
        int r;

        r = load(yaml, strlen(yaml), &cfg, &d);
        if (r < 0)
                dump(&d);
        assert_int_equal(r, 0);
        assert_int_equal(d.n_lines, 0);
        assert_int_equal(d.n_warnings, 0);
        assert_non_null(cfg);
        config_diag_done(&d);
        return cfg;
}

static void test_example(void **state) {
        _cleanup_(config_unrefp) Config *c = NULL;
        ConfigDiag d = {};
        const PipelineSpec *p;

        if (config_load(TEST_SRCDIR "/conf/s3batchd.yaml", &c, &d) < 0)
                dump(&d);
        assert_non_null(c);
        assert_string_equal(c->path, TEST_SRCDIR "/conf/s3batchd.yaml");
        assert_string_equal(c->aws.region, "ap-south-1");
        assert_null(c->aws.profile);
        assert_null(c->aws.endpoint_s3);
        assert_false(c->aws.s3_force_path_style);
        assert_string_equal(c->queue.url, "https://sqs.ap-south-1.amazonaws.com/123456789012/inbound-file-events");
        assert_int_equal(c->queue.wait_seconds, 20);
        assert_int_equal(c->queue.max_messages, 10);
        assert_int_equal(c->queue.visibility_timeout, 300);
        assert_int_equal(c->queue.max_receive_count, 5);
        assert_int_equal(c->queue.retry_delay_min, 30);
        assert_int_equal(c->queue.retry_delay_max, 900);
        assert_int_equal(c->workers, 4);
        assert_int_equal(c->log_level, LOG_LEVEL_INFO);
        assert_string_equal(c->archive.bucket, "archival-bucket");
        assert_string_equal(c->archive.prefix, "");
        assert_string_equal(c->errors.bucket, "error-bucket");
        assert_string_equal(c->notify.topic_arn, "arn:aws:sns:ap-south-1:123456789012:batch_processing_notification");
        assert_int_equal(c->notify.on, NOTIFY_ON_SUCCESS | NOTIFY_ON_PARTIAL | NOTIFY_ON_FAILURE |
                                       NOTIFY_ON_SUPERSEDED);
        assert_int_equal(c->n_pipelines, 1);
        p = &c->pipelines[0];
        assert_string_equal(p->name, "students");
        assert_string_equal(p->match_bucket, "inbound-file-drop");
        assert_string_equal(p->match_suffix, ".csv");
        assert_string_equal(p->table, "PRELIM_STUDENT_DATA");
        assert_int_equal(p->csv.delimiter, ',');
        assert_int_equal(p->csv.header, HEADER_REQUIRED);
        assert_int_equal(p->csv.compression, COMPRESSION_AUTO);
        assert_int_equal(p->csv.n_null_values, 2);
        assert_string_equal(p->csv.null_values[0], "");
        assert_string_equal(p->csv.null_values[1], "NULL");
        assert_int_equal(p->n_columns, 4);
        assert_string_equal(p->columns[0].name, "student_id");
        assert_string_equal(p->columns[0].pattern, "^A[0-9]{5}$");
        assert_true(p->columns[0].required);
        assert_int_equal(p->columns[1].max_length, 64);
        assert_string_equal(p->columns[3].name, "course");
        assert_string_equal(p->partition_key, "student_id");
        assert_string_equal(p->sort_key, "course");
        assert_int_equal(p->max_rejected_rows, 0);
        assert_int_equal(p->write_mode, WRITE_MODE_STREAM);
        assert_int_equal(p->write_capacity, 0);
        assert_int_equal(p->write_concurrency, 0);      /* auto */
        assert_ptr_equal(config_find_pipeline(c, "inbound-file-drop", "2024/a.csv"), p);
        assert_null(config_find_pipeline(c, "inbound-file-drop", "a.txt"));
        assert_null(config_find_pipeline(c, "other", "a.csv"));
        assert_ptr_equal(config_find_pipeline_by_name(c, "students"), p);
        assert_null(config_find_pipeline_by_name(c, "nope"));
}

static const char all_options[] =
        "aws:\n  region: us-gov-west-1\n  profile: loader\n"
        "  endpoints: { sqs: \"http://127.0.0.1:4566\", s3: \"http://[::1]:9000/\", dynamodb: \"https://ddb.local\", sns: \"http://localhost:1\" }\n"
        "  s3_force_path_style: true\n  max_attempts: 5\n  max_attempts_batch: 20\n"
        "  connect_timeout_ms: 500\n  request_timeout_ms: 25000\n"
        "queue: { url: \"http://127.0.0.1:4566/000000000000/events.fifo\", wait_seconds: 1, max_messages: 1, visibility_timeout: 43200, max_receive_count: 1, retry_delay_min: 1, retry_delay_max: 43200 }\n"
        "workers: 256\nshutdown_grace: 0\nlog_level: debug\nmetrics_file: /var/lib/s3batchd/metrics.prom\n"
        "archive: { bucket: archival-bucket, prefix: \"done/\" }\n"
        "errors: { bucket: archival-bucket, prefix: \"failed/\" }\n"
        "notify: { topic_arn: \"arn:aws-us-gov:sns:us-gov-west-1:123456789012:t.fifo\", on: [failure] }\n"
        "pipelines:\n"
        "  - name: grades.v2\n    match: { bucket: archival-bucket, prefix: incoming/, suffix: .tsv.gz }\n"
        "    table: grades\n"
        "    csv: { delimiter: tab, header: absent, null_values: [NULL, ~, \"-\"], compression: gzip, max_row_bytes: 4096, max_field_bytes: 100 }\n"
        "    columns:\n"
        "      - { name: id, type: integer, required: true, min: 1, max: 1e9 }\n"
        "      - { name: score, type: number, min: -1.5 }\n"
        "      - { name: passed, type: boolean }\n"
        "      - { name: day, type: date, required: true }\n"
        "      - { name: grade, type: enum, values: [A, B, C] }\n"
        "      - { name: note, max_length: 10, pattern: \"^[a-z ]*$\" }\n"
        "    key: { partition: id, sort: day }\n"
        "    max_rejected_rows: 18446744073709551615\n    write_mode: validate_first\n"
        "    ordering: { mode: per_prefix, group: { regex: \"^incoming/([0-9]{4})-\" }, window: 300 }\n"
        "    write_capacity: { units_per_second: 400, instances: 2 }\n    write_concurrency: 8\n";

static char *dump_to_string(const Config *c) {
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        assert_non_null(f);
        config_dump(c, f);
        assert_int_equal(fclose(f), 0);
        return s;
}

/* The dump loads back to the same configuration: dumping that gives the same text. */
static void round_trip(Config *c) {
        _cleanup_free_ char *first = dump_to_string(c), *second = NULL;
        Config *again;

        again = load_ok(first);
        free(again->path);
        again->path = strdup(c->path);
        assert_non_null(again->path);
        second = dump_to_string(again);
        if (strcmp(first, second) != 0)
                print_message("first:\n%s\nsecond:\n%s\n", first, second);
        assert_string_equal(first, second);
        config_unref(again);
}

static void test_dump(void **state) {
        _cleanup_(config_unrefp) Config *c = NULL;
        _cleanup_free_ char *text = NULL;
        ConfigDiag d = {};

        assert_int_equal(config_load(TEST_SRCDIR "/fuzz/corpus/config/all-options.yaml", &c, &d), 0);
        config_diag_done(&d);
        round_trip(c);
        text = dump_to_string(c);
        assert_non_null(strstr(text, "\nworkers: 4\nshutdown_grace: 60\nlog_level: info\n"));
        assert_non_null(strstr(text, "      null_values: [\"\", \"NULL\"]\n"));
        assert_non_null(strstr(text, "        pattern: \"^A[0-9]{5}$\"\n"));
        config_unref(TAKE_PTR(c));
        c = load_ok(HEAD PIPE "    csv: { delimiter: tab, null_values: [\"a\\\"b\", \"\\\\\"] }\n");
        round_trip(c);
        config_unref(TAKE_PTR(c));
        c = load_ok(all_options);
        round_trip(c);
}

static void test_defaults(void **state) {
        _cleanup_(config_unrefp) Config *c = load_ok(HEAD PIPE);
        const PipelineSpec *p = &c->pipelines[0];

        assert_null(c->aws.region);
        assert_int_equal(c->aws.max_attempts, 3);
        assert_int_equal(c->aws.max_attempts_batch, 10);
        assert_int_equal(c->aws.connect_timeout_ms, 3000);
        assert_int_equal(c->aws.request_timeout_ms, 30000);
        assert_int_equal(c->queue.wait_seconds, 20);
        assert_int_equal(c->queue.max_messages, 10);
        assert_int_equal(c->queue.visibility_timeout, 300);
        assert_int_equal(c->queue.max_receive_count, 5);
        assert_int_equal(c->workers, 4);
        assert_int_equal(c->shutdown_grace, 60);
        assert_int_equal(c->log_level, LOG_LEVEL_INFO);
        assert_null(c->metrics_file);
        assert_string_equal(c->archive.prefix, "");
        assert_null(c->notify.topic_arn);
        assert_string_equal(p->match_prefix, "");
        assert_int_equal(p->csv.delimiter, ',');
        assert_int_equal(p->csv.n_null_values, 2);
        assert_int_equal(p->csv.max_row_bytes, 400 * 1024);
        assert_int_equal(p->csv.max_field_bytes, 400 * 1024);
        assert_int_equal(p->columns[0].type, COLUMN_STRING);
        assert_null(p->columns[0].pattern);
        assert_int_equal(p->write_mode, WRITE_MODE_STREAM);
        assert_int_equal(p->ordering.mode, ORDERING_NONE);
        assert_null(p->ordering.group_regex);
        assert_int_equal(p->ordering.window, 0);
}

/* The three modes, the short and the long form, and the group rule; each dumps and loads
 * back to itself. */
static void test_ordering(void **state) {
        static const struct {
                const char *yaml;
                OrderingMode mode;
                const char *regex;
                unsigned window;
        } t[] = {
                { "    ordering: none\n", ORDERING_NONE, NULL, 0 },
                { "    ordering: per_prefix\n", ORDERING_PER_PREFIX, NULL, 5 },
                { "    ordering: global\n", ORDERING_GLOBAL, NULL, 5 },
                { "    ordering: { mode: none }\n", ORDERING_NONE, NULL, 0 },
                { "    ordering: { mode: per_prefix, group: prefix, window: 0 }\n", ORDERING_PER_PREFIX, NULL, 0 },
                { "    ordering:\n      mode: per_prefix\n      group: { regex: '^in/([^/]+)/' }\n      window: 300\n",
                  ORDERING_PER_PREFIX, "^in/([^/]+)/", 300 },
                { "    ordering: { mode: global, window: 12 }\n", ORDERING_GLOBAL, NULL, 12 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *yaml = NULL;
                _cleanup_(config_unrefp) Config *c = NULL;

                assert_true(asprintf(&yaml, "%s%s%s", HEAD, PIPE, t[i].yaml) > 0);
                c = load_ok(yaml);
                assert_int_equal(c->pipelines[0].ordering.mode, t[i].mode);
                if (t[i].regex)
                        assert_string_equal(c->pipelines[0].ordering.group_regex, t[i].regex);
                else
                        assert_null(c->pipelines[0].ordering.group_regex);
                assert_int_equal(c->pipelines[0].ordering.window, t[i].window);
                round_trip(c);
        }
}

static void test_all_options(void **state) {
        _cleanup_(config_unrefp) Config *c = load_ok(all_options);
        const PipelineSpec *p = &c->pipelines[0];

        assert_string_equal(c->aws.region, "us-gov-west-1");
        assert_string_equal(c->aws.profile, "loader");
        assert_string_equal(c->aws.endpoint_s3, "http://[::1]:9000/");
        assert_true(c->aws.s3_force_path_style);
        assert_int_equal(c->aws.max_attempts_batch, 20);
        assert_int_equal(c->queue.visibility_timeout, 43200);
        assert_int_equal(c->workers, 256);
        assert_int_equal(c->shutdown_grace, 0);
        assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
        assert_string_equal(c->metrics_file, "/var/lib/s3batchd/metrics.prom");
        assert_int_equal(c->notify.on, NOTIFY_ON_FAILURE);
        assert_int_equal(p->csv.delimiter, '\t');
        assert_int_equal(p->csv.header, HEADER_ABSENT);
        assert_int_equal(p->csv.compression, COMPRESSION_GZIP);
        /* taken literally, not as YAML nulls */
        assert_int_equal(p->csv.n_null_values, 3);
        assert_string_equal(p->csv.null_values[0], "NULL");
        assert_string_equal(p->csv.null_values[1], "~");
        assert_int_equal(p->csv.max_field_bytes, 100);
        assert_int_equal(p->columns[0].type, COLUMN_INTEGER);
        assert_true(p->columns[0].has_min && p->columns[0].has_max);
        assert_true(p->columns[0].max == 1e9);
        assert_true(p->columns[1].has_min && !p->columns[1].has_max);
        assert_true(p->columns[1].min == -1.5);
        assert_int_equal(p->columns[4].type, COLUMN_ENUM);
        assert_int_equal(p->columns[4].n_enum_values, 3);
        assert_string_equal(p->columns[4].enum_values[2], "C");
        assert_int_equal(p->columns[5].max_length, 10);
        assert_int_equal(p->max_rejected_rows, UINT64_MAX);
        assert_int_equal(p->write_mode, WRITE_MODE_VALIDATE_FIRST);
        assert_int_equal(p->ordering.mode, ORDERING_PER_PREFIX);
        assert_string_equal(p->ordering.group_regex, "^incoming/([0-9]{4})-");
        assert_int_equal(p->ordering.window, 300);
        assert_int_equal(p->write_capacity, 400);
        assert_int_equal(p->write_instances, 2);
        assert_true(pipeline_spec_write_budget(p) == 200);
        assert_int_equal(p->write_concurrency, 8);
}

static void test_delimiters(void **state) {
        static const struct { const char *yaml; char c; } t[] = {
                { "\";\"", ';' }, { "\"|\"", '|' }, { "\"\\t\"", '\t' }, { "'\\t'", '\t' },
                { "tab", '\t' }, { "\",\"", ',' },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char yaml[1024];
                Config *c;

                snprintf(yaml, sizeof(yaml), HEAD PIPE "    csv: { delimiter: %s }\n", t[i].yaml);
                c = load_ok(yaml);
                assert_int_equal(c->pipelines[0].csv.delimiter, t[i].c);
                config_unref(c);
        }
}

/* Legal but probably not meant: loaded, with warnings in file order. */
static void test_warnings(void **state) {
        static const char yaml[] =
                "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\" }\n"
                "archive: { bucket: archival-bucket, prefix: done }\n"
                "errors: { bucket: archival-bucket, prefix: done }\n"
                "metrics_file: /run/s3batchd.txt\n"
                "pipelines:\n"
                "  - name: students\n"
                "    match: { bucket: inbound-file-drop }\n"
                "    table: PRELIM_STUDENT_DATA\n"
                "    columns: [ { name: id, required: true, pattern: \"A[0-9]{5}\" } ]\n"
                "    key: { partition: id }\n";
        static const char *const expect[] = {
                "t.yaml:2:45: warning: archive.prefix: does not end with '/': keys become 'doneKEY'",
                "t.yaml:3:9: warning: errors: the same place as archive: loaded and failed files end up side by side",
                "t.yaml:3:44: warning: errors.prefix: does not end with '/': keys become 'doneKEY'",
                "t.yaml:4:15: warning: metrics_file: node_exporter's textfile collector only reads files ending in .prom",
                "t.yaml:9:53: warning: pipelines[0].columns[0].pattern: not anchored, so it may match anywhere in the value; write ^...$ to match the whole value",
        };
        _cleanup_(config_unrefp) Config *c = NULL;
        ConfigDiag d = {};

        assert_int_equal(load(yaml, strlen(yaml), &c, &d), 0);
        assert_non_null(c);
        assert_int_equal(d.n_lines, 0);
        if (d.n_warnings != ELEMENTSOF(expect))
                for (size_t i = 0; i < d.n_warnings; i++)
                        print_message("  warning[%zu] %s\n", i, d.warnings[i]);
        assert_int_equal(d.n_warnings, ELEMENTSOF(expect));
        for (size_t i = 0; i < ELEMENTSOF(expect); i++)
                assert_string_equal(d.warnings[i], expect[i]);
        config_diag_done(&d);
}

/* "x.csv.gz" belongs to a ".csv" pipeline that reads gzip; an exact match anywhere wins over
 * such a gzip match, so a ".csv.gz" pipeline keeps its files wherever it is listed. */
static void test_match_gzip(void **state) {
        static const char yaml[] = HEAD
                "pipelines:\n"
                "  - { name: csv, match: { bucket: in-bucket, suffix: .csv }, table: T_1,\n"
                "      columns: [ { name: id, required: true } ], key: { partition: id } }\n"
                "  - { name: gz-own, match: { bucket: in-bucket, prefix: own/, suffix: .csv.gz }, table: T_2,\n"
                "      columns: [ { name: id, required: true } ], key: { partition: id } }\n"
                "  - { name: plain, match: { bucket: in-bucket, suffix: .tsv }, table: T_3,\n"
                "      csv: { compression: none }, columns: [ { name: id, required: true } ], key: { partition: id } }\n"
                "  - { name: forced, match: { bucket: in-bucket, prefix: g/, suffix: .dat }, table: T_4,\n"
                "      csv: { compression: gzip }, columns: [ { name: id, required: true } ], key: { partition: id } }\n"
                "  - { name: any, match: { bucket: other-bucket }, table: T_5,\n"
                "      columns: [ { name: id, required: true } ], key: { partition: id } }\n";
        _cleanup_(config_unrefp) Config *c = load_ok(yaml);
        const PipelineSpec *csv = &c->pipelines[0], *own = &c->pipelines[1], *forced = &c->pipelines[3];

        assert_ptr_equal(config_find_pipeline(c, "in-bucket", "a/x.csv"), csv);
        assert_ptr_equal(config_find_pipeline(c, "in-bucket", "a/x.csv.gz"), csv);
        /* listed after csv, yet its literal suffix wins */
        assert_ptr_equal(config_find_pipeline(c, "in-bucket", "own/x.csv.gz"), own);
        assert_null(config_find_pipeline(c, "in-bucket", "a/x.csv.gz.gz"));
        assert_null(config_find_pipeline(c, "in-bucket", "a/x.csvgz"));
        assert_null(config_find_pipeline(c, "in-bucket", "a/x.gz"));
        assert_null(config_find_pipeline(c, "other-bucket-2", "a/x.csv.gz"));
        /* compression: none never reads gzip, so its suffix + .gz is not its file */
        assert_null(config_find_pipeline(c, "in-bucket", "x.tsv.gz"));
        assert_ptr_equal(config_find_pipeline(c, "in-bucket", "g/x.dat.gz"), forced);
        assert_null(config_find_pipeline(c, "in-bucket", "h/x.dat.gz"));

        assert_int_equal(pipeline_spec_match(csv, "in-bucket", "x.csv"), PIPELINE_MATCH_EXACT);
        assert_int_equal(pipeline_spec_match(csv, "in-bucket", "x.csv.gz"), PIPELINE_MATCH_GZIP);
        assert_int_equal(pipeline_spec_match(csv, "in-bucket", ".csv.gz"), PIPELINE_MATCH_GZIP);
        assert_int_equal(pipeline_spec_match(csv, "in-bucket", "csv.gz"), PIPELINE_MATCH_NONE);
        assert_int_equal(pipeline_spec_match(own, "in-bucket", "own/x.csv.gz"), PIPELINE_MATCH_EXACT);
        assert_int_equal(pipeline_spec_match(own, "in-bucket", "own/x.csv.gz.gz"), PIPELINE_MATCH_NONE);
        /* no suffix: everything matches as written already */
        assert_int_equal(pipeline_spec_match(&c->pipelines[4], "other-bucket", "x.gz"), PIPELINE_MATCH_EXACT);
        assert_true(pipeline_spec_matches(csv, "in-bucket", "x.csv.gz"));
        assert_false(pipeline_spec_matches(csv, "in-bucket", "x.json.gz"));
}

/* Two pipelines that share keys, neither the narrower: the later loses them, a warning. */
static void test_match_overlap_warning(void **state) {
        static const char yaml[] = HEAD
                "pipelines:\n"                                                                  /* 4 */
                "  - { name: grades, match: { bucket: in-bucket, prefix: grades/ }, table: T_1,\n" /* 5 */
                "      columns: [ { name: id, required: true } ], key: { partition: id } }\n"
                "  - { name: csv, match: { bucket: in-bucket, suffix: .csv }, table: T_2,\n"       /* 7 */
                "      columns: [ { name: id, required: true } ], key: { partition: id } }\n"
                "  - { name: narrow, match: { bucket: in-bucket, prefix: grades/2024/, suffix: .csv }, table: T_3,\n"
                "      columns: [ { name: id, required: true } ], key: { partition: id } }\n";
        _cleanup_(config_unrefp) Config *c = NULL;
        ConfigDiag d = {};

        assert_int_equal(load(yaml, strlen(yaml), &c, &d), -EINVAL);
        /* the third is inside the first: dead, an error */
        if (d.n_lines != 1)
                dump(&d);
        assert_int_equal(d.n_lines, 1);
        assert_string_equal(d.lines[0], "t.yaml:9:5: pipelines[2]: can never match: pipeline 'grades' (line 5) comes first and takes every file it would");
        assert_int_equal(d.n_warnings, 1);
        assert_string_equal(d.warnings[0], "t.yaml:7:5: warning: pipelines[1]: keys like 'grades/....csv' match "
                            "this pipeline and 'grades' (line 5), which comes first and takes them; list the narrower pipeline first");
        config_diag_done(&d);
}

/* Every problem in one run, in file order. */
static void test_many_errors(void **state) {
        static const char yaml[] =
                "queue: { url: \"https://sqs.ap-south-1.amazonaws.com/123456789012/q\", wait_seconds: 0 }\n"
                "workers: 300\n"
                "archive: { bucket: A }\n"
                "errors: { bucket: error-bucket, prefx: x/ }\n"
                "pipelines:\n"
                "  - name: students\n"
                "    match: { bucket: inbound-file-drop }\n"
                "    table: PRELIM_STUDENT_DATA\n"
                "    columns: [ { name: id, type: text } ]\n"
                "    key: { partition: nope }\n";
        static const char *const expect[] = {
                "t.yaml:1:84: queue.wait_seconds: must be between 1 and 20, got 0",
                "t.yaml:2:10: workers: must be between 1 and 256, got 300",
                "t.yaml:3:20: archive.bucket: invalid value 'A': must be 3 to 63 characters long",
                "t.yaml:4:33: errors.prefx: unknown key, did you mean 'prefix'?",
                "t.yaml:9:34: pipelines[0].columns[0].type: unknown value 'text' (expected one of: string, integer, number, boolean, date, enum, string_set, number_set, map, list)",
                "t.yaml:10:23: pipelines[0].key.partition: no column named 'nope' in columns",
        };
        ConfigDiag d = {};
        Config *c = NULL;

        assert_int_equal(load(yaml, strlen(yaml), &c, &d), -EINVAL);
        if (d.n_lines != ELEMENTSOF(expect))
                dump(&d);
        assert_int_equal(d.n_lines, ELEMENTSOF(expect));
        for (size_t i = 0; i < ELEMENTSOF(expect); i++)
                assert_string_equal(d.lines[i], expect[i]);
        /* a second failed load appends */
        assert_int_equal(load("", 0, &c, &d), -EINVAL);
        assert_int_equal(d.n_lines, ELEMENTSOF(expect) + 1);
        config_diag_done(&d);
        assert_null(c);
}

static void expect_fail(const char *data, size_t len, const char *part) {
        ConfigDiag d = {};
        Config *c = NULL;

        assert_int_equal(load(data, len, &c, &d), -EINVAL);
        assert_null(c);
        assert_true(d.n_lines >= 1 && d.n_lines <= 101);
        if (!diag_contains(&d, part)) {
                print_message("expected a diagnostic containing '%s'\n", part);
                dump(&d);
        }
        assert_true(diag_contains(&d, part));
        config_diag_done(&d);
}

static void test_binary(void **state) {
        unsigned char bin[4096];
        unsigned s = 12345;

        for (size_t i = 0; i < sizeof(bin); i++) {
                s = s * 1103515245u + 12345u;
                bin[i] = (unsigned char) (s >> 16);
        }
        expect_fail((const char *) bin, sizeof(bin), "t.yaml:");
        /* a NUL after valid text: the length, not strlen, is the file */
        expect_fail(HEAD "\0" PIPE, sizeof(HEAD PIPE), "t.yaml:4:1: NUL byte: this is a binary file, not YAML");
        expect_fail("\x1f\x8b\x08\x00\x00\x00", 6, "t.yaml:1:1: control character 0x1f");
        expect_fail("\x7f" "ELF\x02\x01\x01", 7, "t.yaml:1:1: control character 0x7f");
}

static void test_garbage(void **state) {
        expect_fail("just a string\n", 14, "t.yaml:1:1: the top level: expected a mapping, got a scalar");
        expect_fail("---\n", 4, "t.yaml:2:1: the top level: expected a mapping, got nothing (null)");
        expect_fail("}{][:::", 7, "t.yaml:1:1: YAML syntax error");
        expect_fail("a: *x\n", 6, "t.yaml:1:4: anchors and aliases are not supported (found '*x')");
        expect_fail("? [a, b]\n: c\n", 13, "t.yaml:1:3: mapping keys must be plain strings");
        expect_fail("%YAML 1.1\n--- !foo\nx: 1\n", 24, "YAML tags are not supported");
}

static void test_huge(void **state) {
        size_t n = 900 * 1024, big = 2 * 1024 * 1024;
        char *s = malloc(big + 64);

        assert_non_null(s);
        if (!s)
                return;
        /* a huge scalar under the file cap: refused by the value check, message stays short */
        memcpy(s, "archive: { bucket: ", 19);
        memset(s + 19, 'a', n);
        memcpy(s + 19 + n, " }\n", 3);
        expect_fail(s, 19 + n + 3, "t.yaml:1:20: archive.bucket: too long (921600 bytes, at most 63)");
        /* over the cap: refused before parsing */
        memset(s, '#', big);
        expect_fail(s, big, "t.yaml: file too large (2097152 bytes, at most 1048576)");
        /* a long key (YAML caps simple keys at 1024): quoted in the message, cut short */
        memset(s, 'k', 1000);
        memcpy(s + 1000, ": 1\n", 4);
        expect_fail(s, 1000 + 4, "t.yaml:1:1: kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...: unknown key");
        free(s);
}

static void test_deep(void **state) {
        char s[20000];
        size_t n = 0;

        for (int i = 0; i < 5000; i++)
                s[n++] = '[';
        expect_fail(s, n, "t.yaml:1:33: nesting deeper than 32 levels");
        n = 0;
        for (int i = 0; i < 40; i++)
                n += (size_t) snprintf(s + n, sizeof(s) - n, "%*sk%d:\n", i * 2, "", i);
        expect_fail(s, n, "nesting deeper than 32 levels");
}

static void test_many_nodes(void **state) {
        size_t n = 0, cap = 1024 * 1024;
        char *s = malloc(cap);

        assert_non_null(s);
        if (!s)
                return;
        s[n++] = '[';
        while (n + 3 < cap)
                memcpy(s + n, "1, ", 3), n += 3;
        s[n - 2] = ']';
        expect_fail(s, n - 1, "more than 100000 values");
        /* many errors are capped, with a count of the rest */
        n = 0;
        for (int i = 0; i < 500; i++)
                n += (size_t) snprintf(s + n, cap - n, "k%d: 1\n", i);
        expect_fail(s, n, "t.yaml: too many problems, ");
        free(s);
}

static void test_files(void **state) {
        ConfigDiag d = {};
        Config *c = NULL;

        assert_int_equal(config_load("/nonexistent/s3batchd.yaml", &c, &d), -ENOENT);
        assert_int_equal(config_load(TEST_SRCDIR "/conf", &c, &d), -EISDIR);
        assert_int_equal(d.n_lines, 2);
        assert_string_equal(d.lines[0], "/nonexistent/s3batchd.yaml: cannot read: No such file or directory");
        assert_string_equal(d.lines[1], TEST_SRCDIR "/conf: cannot read: Is a directory");
        assert_null(c);
        config_diag_done(&d);
        assert_int_equal(config_load("/dev/null", &c, &d), -EINVAL);
        assert_string_equal(d.lines[0], "/dev/null:1:1: the file is empty: no YAML document");
        config_diag_done(&d);
        assert_int_equal(config_load(TEST_SRCDIR "/tests/data/config/bad-many.yaml", &c, &d), -EINVAL);
        assert_true(d.n_lines >= 20);
        config_diag_done(&d);
}

static void test_ref(void **state) {
        Config *c = load_ok(HEAD PIPE);

        assert_ptr_equal(config_ref(c), c);
        assert_int_equal(c->n_ref, 2);
        assert_null(config_unref(c));
        assert_int_equal(c->n_ref, 1);
        assert_null(config_unref(c));
        assert_null(config_ref(NULL));
        assert_null(config_unref(NULL));
}

static void test_checks(void **state) {
        static const char *const good_buckets[] = { "abc", "a.b-c", "inbound-file-drop", "1bucket" };
        static const char *const bad_buckets[] = { "a", "ab-", "-ab", "a..b", "xn--abc", "abc-s3alias",
                                                   "sthree-x", "ABC", "a_b", "10.0.0.1" };
        char why[CHECK_WHY_MAX], region[33];

        for (size_t i = 0; i < ELEMENTSOF(good_buckets); i++)
                assert_null(check_bucket_name(good_buckets[i], why));
        for (size_t i = 0; i < ELEMENTSOF(bad_buckets); i++)
                assert_non_null(check_bucket_name(bad_buckets[i], why));
        assert_null(check_endpoint_url("https://sqs.us-east-1.amazonaws.com", why));
        assert_null(check_endpoint_url("http://127.0.0.1:4566/", why));
        assert_null(check_endpoint_url("http://[::1]:1", why));
        assert_non_null(check_endpoint_url("http://", why));
        assert_non_null(check_endpoint_url("http://a..b", why));
        assert_non_null(check_endpoint_url("http://host:", why));
        assert_non_null(check_endpoint_url("http://host/a b", why));
        assert_non_null(check_endpoint_url("http://host/?x=1", why));
        assert_non_null(check_endpoint_url("sqs.us-east-1.amazonaws.com", why));
        assert_null(check_queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/a-b_c", why));
        assert_non_null(check_queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/", why));
        assert_non_null(check_queue_url("https://sqs.us-east-1.amazonaws.com/123456789012/a/b", why));
        assert_null(check_sns_topic_arn("arn:aws-cn:sns:cn-north-1:123456789012:x", why));
        assert_non_null(check_sns_topic_arn("arn:aws:sns:us-east-1:123456789012:", why));
        assert_non_null(check_sns_topic_arn("arn:aws:sns::123456789012:x", why));
        assert_non_null(check_sns_topic_arn("arn:aws:sns:us-east-1:123456789012:a:b", why));
        assert_null(check_region("eu-central-1", why));
        assert_non_null(check_region("eu-central", why));
        assert_non_null(check_region("eu-1", why));
        assert_true(check_queue_url_region("https://sqs.eu-west-1.amazonaws.com/123456789012/q", region));
        assert_string_equal(region, "eu-west-1");
        assert_true(check_queue_url_region("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", region));
        assert_string_equal(region, "cn-north-1");
        assert_false(check_queue_url_region("http://127.0.0.1:4566/000000000000/q", region));
        assert_false(check_queue_url_region("https://sqs.example.com/123456789012/q", region));
        assert_true(check_arn_region("arn:aws:sns:us-west-2:123456789012:t", region));
        assert_string_equal(region, "us-west-2");
        assert_false(check_arn_region("arn:aws:sns", region));
        assert_int_equal(check_edit_distance("wait_second", "wait_seconds", 3), 1);
        assert_int_equal(check_edit_distance("WORKERS", "workers", 3), 0);
        assert_int_equal(check_edit_distance("abc", "xyzxyzxyz", 3), 4);
}

int main(void) {
        static const struct CMUnitTest fixed[] = {
                cmocka_unit_test(test_example),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_dump),
                cmocka_unit_test(test_ordering),
                cmocka_unit_test(test_all_options),
                cmocka_unit_test(test_delimiters),
                cmocka_unit_test(test_many_errors),
                cmocka_unit_test(test_warnings),
                cmocka_unit_test(test_match_gzip),
                cmocka_unit_test(test_match_overlap_warning),
                cmocka_unit_test(test_binary),
                cmocka_unit_test(test_garbage),
                cmocka_unit_test(test_huge),
                cmocka_unit_test(test_deep),
                cmocka_unit_test(test_many_nodes),
                cmocka_unit_test(test_files),
                cmocka_unit_test(test_ref),
                cmocka_unit_test(test_checks),
        };
        struct CMUnitTest tests[ELEMENTSOF(fixed) + ELEMENTSOF(cases)];
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                tests[n++] = fixed[i];
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                tests[n++] = (struct CMUnitTest) {
                        .name = cases[i].name,
                        .test_func = run_case,
                        .initial_state = (void *) &cases[i],
                };
        return _cmocka_run_group_tests("config", tests, n, NULL, NULL);
}
