/*
 * Workload for the linux-backend test bed: three regions with known access
 * patterns, standing in for a VM's guest RAM.
 *   hot-read   every page read on every pass, never written after set-up
 *   hot-write  every page rewritten on every pass (a full page, stamped with
 *              its version), also while the test moves it between nodes
 *   cold       written once at set-up, then never touched (until verify)
 * Usage: workload HOT_READ_PAGES HOT_WRITE_PAGES COLD_PAGES
 * Prints one line "WORKLOAD {json}" with the region addresses, then loops.
 * SIGUSR1: verify every page against what this process last wrote there and
 * print "VERIFY {json}". SIGUSR2: stop writing (pause the hot-write region).
 * WORKLOAD_THP=1 in the environment: the cold region asks for transparent huge
 * pages (MADV_HUGEPAGE) instead of refusing them; WORKLOAD_THP=all: every
 * region does (a guest whose RAM is all 2 MiB pages, as a QEMU's under THP).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define WORDS (PAGE / 8)
#define GAP (4u << 20) /* unmapped gap between regions, so they are separate VMAs */

static volatile sig_atomic_t want_verify, writes_paused;
static void on_usr1(int s) { (void)s; want_verify = 1; }
static void on_usr2(int s) { (void)s; writes_paused = 1; }

static inline uint64_t pattern(uint64_t region, uint64_t page, uint64_t version, uint64_t i) {
  uint64_t x = (region << 56) ^ (page << 24) ^ (version << 4) ^ i;
  x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33;
  return x;
}

static void fill(uint64_t *p, uint64_t region, uint64_t page, uint64_t version) {
  p[0] = version;
  for (uint64_t i = 1; i < WORDS; i++) p[i] = pattern(region, page, version, i);
}

static int check(const uint64_t *p, uint64_t region, uint64_t page, uint64_t version) {
  if (p[0] != version) return 0;
  for (uint64_t i = 1; i < WORDS; i++) if (p[i] != pattern(region, page, version, i)) return 0;
  return 1;
}

static uint64_t *map_region(char **cursor, size_t pages, int thp) {
  uint64_t *p = mmap(*cursor, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) { perror("mmap"); exit(2); }
  /* 4 KiB pages unless asked: the test names single pages, and a THP moves whole. */
  madvise(p, pages * PAGE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  /* next region: 2 MiB aligned, after an unmapped-for-use gap */
  *cursor = (char *)(((uintptr_t)*cursor + pages * PAGE + GAP - 1) & ~((uintptr_t)GAP - 1)) + GAP;
  return p;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: workload HOT_READ_PAGES HOT_WRITE_PAGES COLD_PAGES\n"); return 2; }
  size_t n[3] = { strtoul(argv[1], 0, 10), strtoul(argv[2], 0, 10), strtoul(argv[3], 0, 10) };
  size_t total = (n[0] + n[1] + n[2]) * PAGE + 8 * (size_t)GAP;
  const char *thp_env = getenv("WORKLOAD_THP");
  int thp = thp_env && thp_env[0] == '1';
  int thp_all = thp_env && strcmp(thp_env, "all") == 0;
  char *base = mmap(0, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) { perror("mmap reserve"); return 2; }
  /* Regions start on 2 MiB boundaries (GAP is a multiple), so huge pages can back them. */
  char *cursor = (char *)(((uintptr_t)base + GAP) & ~((uintptr_t)GAP - 1)) + GAP;
  uint64_t *r[3];
  for (int k = 0; k < 3; k++) r[k] = map_region(&cursor, n[k], thp_all || (thp && k == 2));
  uint64_t *version = calloc(n[1], sizeof(uint64_t)); /* last version written per hot-write page */
  for (int k = 0; k < 3; k++)
    for (size_t p = 0; p < n[k]; p++) fill(r[k] + p * WORDS, k, p, 0);

  signal(SIGUSR1, on_usr1);
  signal(SIGUSR2, on_usr2);
  printf("WORKLOAD {\"pid\":%d,\"regions\":[{\"name\":\"hot-read\",\"start\":\"0x%lx\",\"pages\":%zu},"
         "{\"name\":\"hot-write\",\"start\":\"0x%lx\",\"pages\":%zu},{\"name\":\"cold\",\"start\":\"0x%lx\",\"pages\":%zu}]}\n",
         getpid(), (unsigned long)r[0], n[0], (unsigned long)r[1], n[1], (unsigned long)r[2], n[2]);
  fflush(stdout);

  uint64_t passes = 0, sum = 0;
  struct timespec pause = { 0, 20 * 1000 * 1000 };
  for (;;) {
    for (size_t p = 0; p < n[0]; p++) sum += ((volatile uint64_t *)r[0])[p * WORDS + (passes & (WORDS - 1))];
    if (!writes_paused)
      for (size_t p = 0; p < n[1]; p++) fill(r[1] + p * WORDS, 1, p, ++version[p]);
    passes++;
    if (want_verify) {
      want_verify = 0;
      size_t bad[3] = { 0, 0, 0 };
      for (size_t p = 0; p < n[0]; p++) bad[0] += !check(r[0] + p * WORDS, 0, p, 0);
      for (size_t p = 0; p < n[1]; p++) bad[1] += !check(r[1] + p * WORDS, 1, p, version[p]);
      for (size_t p = 0; p < n[2]; p++) bad[2] += !check(r[2] + p * WORDS, 2, p, 0);
      printf("VERIFY {\"passes\":%lu,\"badHotRead\":%zu,\"badHotWrite\":%zu,\"badCold\":%zu,\"hotWriteVersion0\":%lu}\n",
             (unsigned long)passes, bad[0], bad[1], bad[2], (unsigned long)version[0]);
      fflush(stdout);
    }
    nanosleep(&pause, 0);
  }
  (void)sum;
}
