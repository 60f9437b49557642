/* Fuzz target for ddb-json through ingest: the JSON Lines harness (fuzz-jsonl.c) with the
 * format set to ddb-json and no columns, so every input exercises the DynamoDB-JSON rules
 * (type descriptors, sets, base64, nesting, key attributes, sizes) with the same oracles. */
#define FUZZ_FORMAT FORMAT_DDB_JSON
#include "fuzz-jsonl.c"
