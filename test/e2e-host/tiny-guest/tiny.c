// SPDX-License-Identifier: Apache-2.0
/*
 * The tiny nested guest of the emulated-Optane test bed: a freestanding
 * 32-bit multiboot program that libvirt boots with <kernel> (direct kernel
 * boot) inside the test-bed host. It stands in for a VM with a known working
 * set, and checks that no write is lost while hmmv moves its RAM:
 *
 *   hot region   every page stamped (its first word) on every pass, a pass
 *                every PASS ms, for ever
 *   cold region  every word written once at start (before the hot region:
 *                a first-touch policy that fills DRAM first gives DRAM to
 *                cold pages, so a manager has to swap them), then only read
 *                by checks
 *   the rest     one word per page written once, so all guest RAM is present
 *
 * Every CHECK s, and when the host writes 'c' to the serial port, it verifies
 * every word of both regions against what it last wrote there. It reports on
 * COM1, one line each:
 *   TINY BOOT mem=KiB hot=GPA+BYTES cold=GPA+BYTES pass=MS check=S
 *   TINY READY ms=T            both regions written (T ms after boot)
 *   TINY HB ms=T pass=N ready=R checks=K asked=A hot_bad=W cold_bad=W
 *                              heartbeat, every second, with the totals so
 *                              far (a reader that connects late misses nothing)
 *   TINY CHECK n=K ms=T pass=N asked=A hot_bad=W cold_bad=W took=MS
 *                              asked = check requests read before this check
 *                              began: a reader that asked for the A-th knows
 *                              this check started after its request (a check
 *                              on the schedule may be running when it asks)
 *   TINY BAD region=R gpa=A got=X want=Y   (first bad word of a check)
 * Command line (multiboot): hot=OFF:LEN cold=OFF:LEN pass=MS check=S, sizes
 * with K or M suffixes. Between passes the CPU halts (PIT at 100 Hz), so an
 * idle nested guest costs its host little.
 *
 * Cost: a pass writes one word per hot page (one access per page per pass is
 * all the hot evidence needs; under nested TCG every store is dear); a check
 * reads every word of both regions once.
 */
#include <stdint.h>

#define PAGE		4096u
#define WORDS		(PAGE / 4)
#define STAMP_STRIDE	WORDS		/* words between a page's stamped words */
#define HZ		100u
#define COM1		0x3f8
#define HOT_SEED	0x9e3779b9u
#define COLD_SEED	0x85ebca6bu

extern char _end[];
extern void timer_isr(void);
extern void spurious_isr(void);
extern void fault_isr(void);

volatile uint32_t ticks;

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* --- serial ------------------------------------------------------------- */

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);		/* no UART interrupts: we poll */
	outb(COM1 + 3, 0x80);		/* DLAB */
	outb(COM1 + 0, 0x01);		/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);		/* 8N1 */
	outb(COM1 + 2, 0xc7);		/* FIFO on, cleared */
	outb(COM1 + 4, 0x03);		/* DTR, RTS */
}

static void putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

static void puts(const char *s)
{
	while (*s)
		putc(*s++);
}

static void put_dec(uint32_t v)
{
	char buf[11];
	int i = 0;

	do {
		buf[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		putc(buf[--i]);
}

static void put_hex(uint32_t v)
{
	int shift;

	puts("0x");
	for (shift = 28; shift >= 0; shift -= 4)
		putc("0123456789abcdef"[(v >> shift) & 15]);
}

static int serial_pending(void)
{
	return inb(COM1 + 5) & 0x01;
}

/* A byte from the host, or -1 when none is waiting. */
static int serial_poll(void)
{
	return serial_pending() ? inb(COM1) : -1;
}

/* --- interrupts and the timer ------------------------------------------ */

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint16_t flags;
	uint16_t off_hi;
} __attribute__((packed));

static struct idt_gate idt[256];

static void set_gate(int n, void (*fn)(void))
{
	uint32_t off = (uint32_t)fn;

	idt[n].off_lo = off & 0xffff;
	idt[n].sel = 0x08;
	idt[n].flags = 0x8e00;		/* present, ring 0, 32-bit interrupt gate */
	idt[n].off_hi = off >> 16;
}

static void interrupts_init(void)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __attribute__((packed)) desc = { sizeof(idt) - 1, (uint32_t)idt };
	uint16_t divisor = 1193182 / HZ;
	int n;

	for (n = 0; n < 256; n++)
		set_gate(n, n < 32 ? fault_isr : spurious_isr);
	set_gate(32, timer_isr);
	__asm__ volatile("lidt %0" : : "m"(desc));

	/* PIC: IRQ0-7 at vectors 32-39, IRQ8-15 at 40-47; only IRQ0 unmasked. */
	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, 0x20);
	outb(0xa1, 0x28);
	outb(0x21, 0x04);
	outb(0xa1, 0x02);
	outb(0x21, 0x01);
	outb(0xa1, 0x01);
	outb(0x21, 0xfe);
	outb(0xa1, 0xff);

	/* PIT channel 0, rate generator at HZ. */
	outb(0x43, 0x34);
	outb(0x40, divisor & 0xff);
	outb(0x40, divisor >> 8);
	__asm__ volatile("sti");
}

void tiny_fault(void)
{
	puts("TINY FAULT\n");
}

static uint32_t now_ms(void)
{
	return ticks * (1000 / HZ);
}

/* --- the regions -------------------------------------------------------- */

struct region {
	uint32_t start;
	uint32_t len;
};

static inline uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static inline uint32_t base_word(uint32_t addr, uint32_t seed)
{
	return mix(addr ^ seed);
}

static inline uint32_t stamp_word(uint32_t addr, uint32_t pass)
{
	return mix(addr) ^ pass;
}

static void fill(const struct region *r, uint32_t seed)
{
	uint32_t a;

	for (a = r->start; a < r->start + r->len; a += 4)
		*(volatile uint32_t *)a = base_word(a, seed);
}

static void hot_pass(const struct region *r, uint32_t pass)
{
	uint32_t page, w;

	for (page = r->start; page < r->start + r->len; page += PAGE)
		for (w = 0; w < WORDS; w += STAMP_STRIDE)
			*(volatile uint32_t *)(page + 4 * w) = stamp_word(page + 4 * w, pass);
}

static uint32_t first_bad_addr, first_bad_got, first_bad_want;

static void note_bad(uint32_t bad, uint32_t a, uint32_t got, uint32_t want)
{
	if (bad == 0) {
		first_bad_addr = a;
		first_bad_got = got;
		first_bad_want = want;
	}
}

static void report_bad(const char *region)
{
	puts("TINY BAD region=");
	puts(region);
	puts(" gpa=");
	put_hex(first_bad_addr);
	puts(" got=");
	put_hex(first_bad_got);
	puts(" want=");
	put_hex(first_bad_want);
	putc('\n');
}

/* Words of the hot region that differ from pass `pass`. */
static uint32_t verify_hot(const struct region *r, uint32_t pass)
{
	uint32_t a, bad = 0;

	for (a = r->start; a < r->start + r->len; a += 4) {
		uint32_t w = (a & (PAGE - 1)) / 4;
		uint32_t want = (w % STAMP_STRIDE) ? base_word(a, HOT_SEED) : stamp_word(a, pass);
		uint32_t got = *(volatile uint32_t *)a;

		if (got != want) {
			note_bad(bad, a, got, want);
			bad++;
		}
	}
	return bad;
}

static uint32_t verify_cold(const struct region *r)
{
	uint32_t a, bad = 0;

	for (a = r->start; a < r->start + r->len; a += 4) {
		uint32_t want = base_word(a, COLD_SEED);
		uint32_t got = *(volatile uint32_t *)a;

		if (got != want) {
			note_bad(bad, a, got, want);
			bad++;
		}
	}
	return bad;
}

static int inside(uint32_t a, const struct region *r)
{
	return a >= r->start && a < r->start + r->len;
}

/* One word per page of the rest of RAM, so the host sees all of it present. */
static void touch_rest(uint32_t mem_end, const struct region *hot, const struct region *cold)
{
	uint32_t a, prog_end = ((uint32_t)_end + PAGE - 1) & ~(PAGE - 1);

	for (a = 0x1000; a < 0x9f000; a += PAGE)
		*(volatile uint32_t *)a = 0;
	for (a = prog_end; a < mem_end; a += PAGE)
		if (!inside(a, hot) && !inside(a, cold))
			*(volatile uint32_t *)a = 0;
}

/* --- the command line --------------------------------------------------- */

static const char *parse_num(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint32_t)(*s++ - '0');
	if (*s == 'K' || *s == 'k') {
		v <<= 10;
		s++;
	} else if (*s == 'M' || *s == 'm') {
		v <<= 20;
		s++;
	}
	*out = v;
	return s;
}

static int starts(const char *s, const char *key)
{
	while (*key)
		if (*s++ != *key++)
			return 0;
	return 1;
}

static void parse_cmdline(const char *s, struct region *hot, struct region *cold,
			  uint32_t *pass_ms, uint32_t *check_s)
{
	while (s && *s) {
		if (starts(s, "hot=")) {
			s = parse_num(s + 4, &hot->start);
			if (*s == ':')
				s = parse_num(s + 1, &hot->len);
		} else if (starts(s, "cold=")) {
			s = parse_num(s + 5, &cold->start);
			if (*s == ':')
				s = parse_num(s + 1, &cold->len);
		} else if (starts(s, "pass=")) {
			s = parse_num(s + 5, pass_ms);
		} else if (starts(s, "check=")) {
			s = parse_num(s + 6, check_s);
		}
		while (*s && *s != ' ')
			s++;
		while (*s == ' ')
			s++;
	}
}

static void put_region(const char *name, const struct region *r)
{
	puts(name);
	put_hex(r->start);
	putc('+');
	put_dec(r->len);
}

static void wait_tick(void)
{
	uint32_t t = ticks;

	while (ticks == t)
		__asm__ volatile("hlt");
}

void tiny_main(uint32_t magic, const uint32_t *info)
{
	struct region hot = { 4u << 20, 8u << 20 };
	struct region cold = { 12u << 20, 32u << 20 };
	uint32_t pass_ms = 20, check_s = 20, mem_end = 64u << 20;
	uint32_t pass = 0, checks = 0, asked = 0, ready_ms, hot_bad = 0, cold_bad = 0;
	uint32_t next_pass, next_hb, next_check;

	serial_init();
	if (magic == 0x2badb002 && info) {
		if (info[0] & 1)
			mem_end = (1u << 20) + info[2] * 1024u;
		if (info[0] & 4)
			parse_cmdline((const char *)info[4], &hot, &cold, &pass_ms, &check_s);
	}
	hot.start &= ~(PAGE - 1);
	cold.start &= ~(PAGE - 1);
	hot.len &= ~(PAGE - 1);
	cold.len &= ~(PAGE - 1);
	puts("TINY BOOT mem=");
	put_dec(mem_end >> 10);
	put_region(" hot=", &hot);
	put_region(" cold=", &cold);
	puts(" pass=");
	put_dec(pass_ms);
	puts(" check=");
	put_dec(check_s);
	putc('\n');
	if (hot.start < (uint32_t)_end || cold.start < (uint32_t)_end ||
	    hot.start + hot.len > mem_end || cold.start + cold.len > mem_end ||
	    (hot.start < cold.start + cold.len && cold.start < hot.start + hot.len)) {
		puts("TINY BADARGS regions overlap the program, each other or the end of RAM\n");
		return;
	}
	interrupts_init();

	fill(&cold, COLD_SEED);
	fill(&hot, HOT_SEED);
	hot_pass(&hot, pass);
	touch_rest(mem_end, &hot, &cold);
	ready_ms = now_ms();
	puts("TINY READY ms=");
	put_dec(ready_ms);
	putc('\n');

	next_pass = now_ms();
	next_hb = now_ms() + 1000;
	next_check = now_ms() + check_s * 1000;
	for (;;) {
		int c = serial_poll();
		uint32_t t = now_ms();

		if (c == 'c')
			asked++;

		if (t >= next_pass) {
			hot_pass(&hot, ++pass);
			next_pass = t + pass_ms;
		}
		if (t >= next_hb) {
			puts("TINY HB ms=");
			put_dec(t);
			puts(" pass=");
			put_dec(pass);
			puts(" ready=");
			put_dec(ready_ms);
			puts(" checks=");
			put_dec(checks);
			puts(" asked=");
			put_dec(asked);
			puts(" hot_bad=");
			put_dec(hot_bad);
			puts(" cold_bad=");
			put_dec(cold_bad);
			putc('\n');
			next_hb = t + 1000;
		}
		if (c == 'c' || t >= next_check) {
			uint32_t hb = verify_hot(&hot, pass);
			uint32_t cb;

			if (hb)
				report_bad("hot");
			cb = verify_cold(&cold);
			if (cb)
				report_bad("cold");
			checks++;
			hot_bad += hb;
			cold_bad += cb;
			puts("TINY CHECK n=");
			put_dec(checks);
			puts(" ms=");
			put_dec(t);
			puts(" pass=");
			put_dec(pass);
			puts(" asked=");
			put_dec(asked);
			puts(" hot_bad=");
			put_dec(hb);
			puts(" cold_bad=");
			put_dec(cb);
			puts(" took=");
			put_dec(now_ms() - t);
			putc('\n');
			next_check = now_ms() + check_s * 1000;
		}
		if (!serial_pending() && now_ms() < next_pass)
			wait_tick();
	}
}
