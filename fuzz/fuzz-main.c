/* Replay driver: runs LLVMFuzzerTestOneInput over every file of the corpus folders given on
 * the command line, so the committed corpus is a regression test without libFuzzer
 * (systemd's src/fuzz/fuzz-main.c idea). A crash or sanitizer report fails the test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        FILE *f = fopen(path, "rb");
        uint8_t *data;
        long n;

        if (!f)
                return -1;
        if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
                fclose(f);
                return -1;
        }
        data = malloc((size_t) n + 1);
        if (!data || fread(data, 1, (size_t) n, f) != (size_t) n) {
                free(data);
                fclose(f);
                return -1;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(data, (size_t) n);
        free(data);
        return 0;
}

int main(int argc, char **argv) {
        int ran = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                DIR *d;
                struct dirent *de;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: cannot stat\n", argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (run_file(argv[i]) < 0)
                                return 1;
                        ran++;
                        continue;
                }
                d = opendir(argv[i]);
                if (!d)
                        return 1;
                while ((de = readdir(d))) {
                        char path[4096];

                        if (de->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                        if (run_file(path) < 0) {
                                fprintf(stderr, "%s: cannot read\n", path);
                                closedir(d);
                                return 1;
                        }
                        ran++;
                }
                closedir(d);
        }
        printf("replayed %d inputs\n", ran);
        return ran > 0 ? 0 : 1;
}
