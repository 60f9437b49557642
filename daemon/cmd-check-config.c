/* Placeholder until conf/ lands: replaced by the config loader's command. */
#include <stdio.h>

#include "daemon/commands.h"

int cmd_check_config(const GlobalOptions *g, int argc, char **argv) {
        fprintf(stderr, "%s: configuration loading is not implemented yet\n", g->config_path);
        return 1;
}
