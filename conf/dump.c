/* config_dump(): the effective configuration, defaults filled in, as YAML that loads back to
 * the same Config — what `check-config --dump` shows an operator ("what is the daemon really
 * using?"). Every string is written double-quoted with escapes, so no value can change the
 * document's structure; numbers use %.17g so a double survives the round trip. */
#include <stdio.h>

#include "conf/config.h"

static void put_str(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

static void put_kv(FILE *f, const char *indent, const char *key, const char *value) {
        if (!value)
                return;
        fprintf(f, "%s%s: ", indent, key);
        put_str(f, value);
        fputc('\n', f);
}

static void dump_aws(FILE *f, const ConfigAws *a) {
        fputs("aws:\n", f);
        put_kv(f, "  ", "region", a->region);
        put_kv(f, "  ", "profile", a->profile);
        if (a->endpoint_sqs || a->endpoint_s3 || a->endpoint_dynamodb || a->endpoint_sns) {
                fputs("  endpoints:\n", f);
                put_kv(f, "    ", "sqs", a->endpoint_sqs);
                put_kv(f, "    ", "s3", a->endpoint_s3);
                put_kv(f, "    ", "dynamodb", a->endpoint_dynamodb);
                put_kv(f, "    ", "sns", a->endpoint_sns);
        }
        fprintf(f, "  s3_force_path_style: %s\n", a->s3_force_path_style ? "true" : "false");
        put_kv(f, "  ", "ca_bundle", a->ca_bundle);
        fprintf(f, "  max_attempts: %u\n  max_attempts_batch: %u\n", a->max_attempts,
                a->max_attempts_batch);
        fprintf(f, "  connect_timeout_ms: %u\n  request_timeout_ms: %u\n", a->connect_timeout_ms,
                a->request_timeout_ms);
}

static void dump_top(FILE *f, const Config *c) {
        static const char *const levels[] = {
                [LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARNING] = "warning",
                [LOG_LEVEL_NOTICE] = "notice", [LOG_LEVEL_INFO] = "info",
                [LOG_LEVEL_DEBUG] = "debug",
        };
        static const char *const events[] = { "success", "partial", "failure", "superseded" };

        fputs("queue:\n", f);
        put_kv(f, "  ", "url", c->queue.url);
        fprintf(f, "  wait_seconds: %u\n  max_messages: %u\n  visibility_timeout: %u\n"
                "  max_receive_count: %u\n  retry_delay_min: %u\n  retry_delay_max: %u\n",
                c->queue.wait_seconds, c->queue.max_messages, c->queue.visibility_timeout,
                c->queue.max_receive_count, c->queue.retry_delay_min, c->queue.retry_delay_max);
        fprintf(f, "workers: %u\nshutdown_grace: %u\nlog_level: %s\n", c->workers,
                c->shutdown_grace, levels[c->log_level]);
        put_kv(f, "", "metrics_file", c->metrics_file);
        fputs("archive:\n", f);
        put_kv(f, "  ", "bucket", c->archive.bucket);
        put_kv(f, "  ", "prefix", c->archive.prefix);
        fputs("errors:\n", f);
        put_kv(f, "  ", "bucket", c->errors.bucket);
        put_kv(f, "  ", "prefix", c->errors.prefix);
        if (!c->notify.topic_arn)
                return;
        fputs("notify:\n", f);
        put_kv(f, "  ", "topic_arn", c->notify.topic_arn);
        fputs("  on: [", f);
        for (unsigned i = 0, n = 0; i < ELEMENTSOF(events); i++)
                if (c->notify.on & (1u << i))
                        fprintf(f, "%s%s", n++ ? ", " : "", events[i]);
        fputs("]\n", f);
}

static void dump_csv(FILE *f, const CsvSpec *csv) {
        static const char *const headers[] = { "required", "absent" };
        static const char *const compressions[] = { "auto", "none", "gzip" };
        char delim[2] = { csv->delimiter, '\0' };

        fputs("    csv:\n", f);
        put_kv(f, "      ", "delimiter", delim);
        fprintf(f, "      header: %s\n      header_match: %s\n      compression: %s\n      null_values: [",
                headers[csv->header], header_match_to_string(csv->header_match),
                compressions[csv->compression]);
        for (size_t i = 0; i < csv->n_null_values; i++) {
                fputs(i ? ", " : "", f);
                put_str(f, csv->null_values[i]);
        }
        fprintf(f, "]\n      max_row_bytes: %zu\n      max_field_bytes: %zu\n",
                csv->max_row_bytes, csv->max_field_bytes);
}

static void dump_column(FILE *f, const ColumnSpec *col) {
        fputs("      - name: ", f);
        put_str(f, col->name);
        fputc('\n', f);
        put_kv(f, "        ", "attribute", col->attribute);
        fprintf(f, "        type: %s\n        required: %s\n        omit_if_null: %s\n",
                column_type_to_string(col->type), col->required ? "true" : "false",
                col->keep_null ? "false" : "true");
        put_kv(f, "        ", "default", col->default_value);
        put_kv(f, "        ", "separator", col->separator);
        put_kv(f, "        ", "pattern", col->pattern);
        if (col->max_length)
                fprintf(f, "        max_length: %zu\n", col->max_length);
        if (col->has_min)
                fprintf(f, "        min: %.17g\n", col->min);
        if (col->has_max)
                fprintf(f, "        max: %.17g\n", col->max);
        if (col->type != COLUMN_ENUM)
                return;
        fputs("        values: [", f);
        for (size_t i = 0; i < col->n_enum_values; i++) {
                fputs(i ? ", " : "", f);
                put_str(f, col->enum_values[i]);
        }
        fputs("]\n", f);
}

static void dump_ordering(FILE *f, const OrderingSpec *o) {
        fprintf(f, "    ordering:\n      mode: %s\n", ordering_mode_to_string(o->mode));
        if (o->mode == ORDERING_PER_PREFIX && !o->group_regex)
                fputs("      group: prefix\n", f);
        else if (o->mode == ORDERING_PER_PREFIX) {
                fputs("      group:\n", f);
                put_kv(f, "        ", "regex", o->group_regex);
        }
        if (o->mode != ORDERING_NONE)
                fprintf(f, "      window: %u\n", o->window);
}

static void dump_computed(FILE *f, const ComputedSpec *c) {
        fputs("      - attribute: ", f);
        put_str(f, c->attribute);
        fputc('\n', f);
        switch (c->kind) {
        case COMPUTED_SOURCE:
                fprintf(f, "        from: %s\n", computed_source_to_string(c->source));
                break;
        case COMPUTED_CONSTANT:
                put_kv(f, "        ", "constant", c->constant);
                break;
        default:
                fputs("        ttl:\n          from: ", f);
                put_str(f, c->ttl_column ? c->ttl_column : "ingested_at");
                fprintf(f, "\n          add_days: %lld\n", (long long) c->add_days);
                break;
        }
}

static void dump_pipeline(FILE *f, const PipelineSpec *p) {
        static const char *const modes[] = { "stream", "validate_first" };

        fputs("  - name: ", f);
        put_str(f, p->name);
        fputs("\n    match:\n", f);
        put_kv(f, "      ", "bucket", p->match_bucket);
        put_kv(f, "      ", "prefix", p->match_prefix);
        put_kv(f, "      ", "suffix", p->match_suffix);
        put_kv(f, "    ", "table", p->table);
        fprintf(f, "    format: %s\n", input_format_to_string(p->format));
        dump_csv(f, &p->csv);
        /* ddb-json has none, and an empty list would not load back */
        if (p->n_columns)
                fputs("    columns:\n", f);
        for (size_t i = 0; i < p->n_columns; i++)
                dump_column(f, &p->columns[i]);
        if (p->n_computed)
                fputs("    computed:\n", f);
        for (size_t i = 0; i < p->n_computed; i++)
                dump_computed(f, &p->computed[i]);
        fputs("    key:\n", f);
        put_kv(f, "      ", "partition", p->partition_key);
        put_kv(f, "      ", "sort", p->sort_key);
        fprintf(f, "    max_rejected_rows: %llu\n    write_mode: %s\n",
                (unsigned long long) p->max_rejected_rows, modes[p->write_mode]);
        dump_ordering(f, &p->ordering);
        if (p->write_capacity)
                fprintf(f, "    write_capacity:\n      units_per_second: %llu\n      instances: %u\n",
                        (unsigned long long) p->write_capacity, p->write_instances);
        if (p->write_concurrency)
                fprintf(f, "    write_concurrency: %u\n", p->write_concurrency);
        else
                fputs("    write_concurrency: auto\n", f);
        fprintf(f, "    split_bytes: %llu\n    split_workers: %u\n", (unsigned long long) p->split_bytes,
                p->split_workers);
}

void config_dump(const Config *c, FILE *f) {
        fprintf(f, "# effective configuration of ");
        put_str(f, c->path);
        fputc('\n', f);
        dump_aws(f, &c->aws);
        dump_top(f, c);
        fputs("pipelines:\n", f);
        for (size_t i = 0; i < c->n_pipelines; i++)
                dump_pipeline(f, &c->pipelines[i]);
}
