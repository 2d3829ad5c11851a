/* `c_test NAME`: appends NAME and a newline to the file named by TLB_FAKE_LOG, in one write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  const char* log = getenv("TLB_FAKE_LOG");
  if (argc != 2) return 2;
  if (log != NULL) {
    FILE* file = fopen(log, "a");
    if (file == NULL) return 3;
    fprintf(file, "%s\n", argv[1]);
    fclose(file);
  }
  return 0;
}
