/*
 * A small in-memory key-value store traced with valgrind lackey for
 * traces/kvstore.trace.gz: an open-addressing hash index over 4096 records of
 * 4 KiB (16 MiB), then 200000 operations, half reads and half updates, with
 * Zipf-like key popularity (continuous inverse CDF, theta 0.9) scattered over
 * the records. Deterministic: a fixed xorshift seed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORDS 4096
#define RECORD_BYTES 4096
#define SLOTS (RECORDS * 2)
#define OPS 200000
#define THETA 0.9

static uint64_t state = 88172645463325252ull;
static uint64_t next(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

struct slot { uint64_t key; char *record; };

int main(void) {
  struct slot *index = calloc(SLOTS, sizeof *index);
  char *records = malloc((size_t)RECORDS * RECORD_BYTES);
  if (!index || !records) return 1;
  for (uint64_t k = 1; k <= RECORDS; k++) {
    uint64_t h = (k * 0x9e3779b97f4a7c15ull) % SLOTS;
    while (index[h].key) h = (h + 1) % SLOTS;
    index[h].key = k;
    index[h].record = records + (size_t)(k - 1) * RECORD_BYTES;
    memset(index[h].record, (int)k, 64);
  }
  uint64_t sum = 0;
  for (int op = 0; op < OPS; op++) {
    double u = (double)(next() >> 11) / 9007199254740992.0;
    uint64_t rank = (uint64_t)(RECORDS * pow(u, 1.0 / (1.0 - THETA)));
    if (rank >= RECORDS) rank = RECORDS - 1;
    uint64_t k = (rank * 2654435761ull) % RECORDS + 1; /* scatter ranks over keys */
    uint64_t h = (k * 0x9e3779b97f4a7c15ull) % SLOTS;
    while (index[h].key != k) h = (h + 1) % SLOTS;
    char *r = index[h].record;
    size_t field = (next() % 64) * 64; /* one of 64 cache lines of the record */
    if (next() & 1) r[field] += 1;       /* update */
    else sum += (unsigned char)r[field]; /* read */
  }
  printf("%llu\n", (unsigned long long)sum);
  return 0;
}
