/* Writes a reference-schema CSV (student_id,first_name,last_name,course) of about N bytes to
 * stdout, deterministically: mostly plain rows, some quoted ones (embedded commas, "" escapes,
 * a line break), some non-ASCII names — the mix a real export has. bench/run uses it.
 *
 *   gen-students BYTES [plain|quoted]
 *
 * plain (default): fields quoted only where CSV needs it, LF line ends (Python's csv.writer).
 * quoted: what spreadsheet and database exports often write instead — a UTF-8 byte order mark,
 * every field quoted (QUOTE_ALL), CRLF line ends (RFC 4180) — so the quoted-field path of a
 * parser is the common one, not the exception. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const first[] = {
        "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret",
        "Niklaus", "Radia", "Tim", "Ken", "Dennis", "Leslie", "Shafi", "José", "Zoë", "Jürgen",
        "Søren", "\"Countess, of\" Lovelace", "O'Neil", "Li",
};
static const char *const last[] = {
        "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy",
        "Hamilton", "Wirth", "Perlman", "Berners-Lee", "Thompson", "Ritchie", "Lamport",
        "Goldwasser", "García Márquez", "Müller", "Kierkegaard", "Smith, Jr.", "Zhang",
};
static const char *const course[] = { "CS101", "CS102", "MATH200", "PHYS110", "CHEM101", "BIO150" };

static int quote_all;

/* Appends s to row, quoted when CSV needs it (the way Python's csv.writer does), or always. */
static char *field(char *row, const char *s) {
        if (!quote_all && !strpbrk(s, ",\"\n")) {
                size_t n = strlen(s);

                memcpy(row, s, n);
                return row + n;
        }
        *row++ = '"';
        for (; *s; s++) {
                if (*s == '"')
                        *row++ = '"';
                *row++ = *s;
        }
        *row++ = '"';
        return row;
}

int main(int argc, char **argv) {
        static const char header[] = "student_id,first_name,last_name,course\n",
                          header_quoted[] = "\xef\xbb\xbf\"student_id\",\"first_name\",\"last_name\",\"course\"\r\n";
        unsigned long long target, written;
        unsigned long long x = 88172645463325252ull;    /* xorshift64, fixed seed */
        static char buf[1 << 20];

        if (argc < 2 || argc > 3 || (target = strtoull(argv[1], NULL, 10)) == 0 ||
            (argc == 3 && strcmp(argv[2], "plain") != 0 && strcmp(argv[2], "quoted") != 0)) {
                fprintf(stderr, "usage: gen-students BYTES [plain|quoted] > file.csv\n");
                return 2;
        }
        quote_all = argc == 3 && strcmp(argv[2], "quoted") == 0;
        setvbuf(stdout, buf, _IOFBF, sizeof(buf));
        fputs(quote_all ? header_quoted : header, stdout);
        written = strlen(quote_all ? header_quoted : header);
        for (unsigned long long i = 0; written < target; i++) {
                char row[256], *p = row;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p += sprintf(p, quote_all ? "\"A%05llu\"," : "A%05llu,", i % 100000);
                p = field(p, first[x % (sizeof(first) / sizeof(first[0]))]);
                *p++ = ',';
                p = field(p, x % 997 == 0 ? "Multi\nLine" : last[(x >> 16) % (sizeof(last) / sizeof(last[0]))]);
                *p++ = ',';
                p = field(p, course[(x >> 32) % (sizeof(course) / sizeof(course[0]))]);
                if (quote_all)
                        *p++ = '\r';
                *p++ = '\n';
                fwrite(row, 1, (size_t) (p - row), stdout);
                written += (unsigned long long) (p - row);
        }
        return fflush(stdout) == 0 ? 0 : 1;
}
