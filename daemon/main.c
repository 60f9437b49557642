/* s3batchd entry point: command-line parsing and dispatch. The only file allowed to hold
 * process-wide mutable state. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

static void usage(FILE *out) {
        fprintf(out,
                "Usage: s3batchd [OPTIONS] [COMMAND]\n"
                "\n"
                "Load CSV files dropped in S3 into DynamoDB, driven by S3 event notifications on SQS.\n"
                "\n"
                "Options:\n"
                "  -c, --config PATH   configuration file (default " S3BATCHD_DEFAULT_CONFIG ")\n"
                "      --check-config  validate the configuration and exit\n"
                "  -h, --help          show this help and exit\n"
                "      --version       show the version and exit\n");
}

int main(int argc, char **argv) {
        enum { OPT_VERSION = 0x100, OPT_CHECK };
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, OPT_CHECK },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case OPT_VERSION:
                        printf("s3batchd %s\n", S3BATCHD_VERSION);
                        return 0;
                case 'c':
                case OPT_CHECK:
                        break;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        usage(stderr);
        return 2;
}
