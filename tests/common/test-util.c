/* common/util: numbers as users type them, hex and base64 round trips and refusals. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "tests/testutil.h"

static void test_parse(void)
{
	static const struct {
		const char *s;
		int r;
		uint64_t v;
	} rows[] = {
		{ "0", 0, 0 },		{ "42", 0, 42 },	  { "0x2a", 0, 42 },
		{ "0X2A", 0, 42 },	{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },	  { "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },	{ "+1", -EINVAL, 0 },	  { " 1", -EINVAL, 0 },
		{ "1 ", -EINVAL, 0 },	{ "0x", -EINVAL, 0 },	  { "0x-5", -EINVAL, 0 },
		{ "0x 5", -EINVAL, 0 }, { "0x+5", -EINVAL, 0 },	  { "12a", -EINVAL, 0 },
		{ "0xg", -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t v = 0;
		int r = parse_u64(rows[i].s, &v);
		TU_CHECK(r == rows[i].r, "parse_u64(\"%s\") = %d, expected %d", rows[i].s, r,
			 rows[i].r);
		if (r == 0)
			TU_CHECK(v == rows[i].v, "parse_u64(\"%s\") value", rows[i].s);
	}
	uint32_t v32;
	TU_CHECK_EQ(parse_u32("4294967295", &v32), 0);
	TU_CHECK_EQ(parse_u32("4294967296", &v32), -ERANGE);
	TU_CHECK_EQ(parse_u32(NULL, &v32), -EINVAL);
}

static void test_hex_base64(void)
{
	uint8_t bin[] = { 0x00, 0x01, 0xab, 0xff, 0x10 };
	char *h = hex_encode(bin, sizeof(bin));
	uint8_t *out;
	size_t n;

	TU_CHECK(strcmp(h, "0001abff10") == 0, "hex %s", h);
	TU_CHECK_EQ(hex_decode("0001ABff10", &out, &n), 0);
	TU_CHECK(n == sizeof(bin) && memcmp(out, bin, n) == 0, "hex round trip");
	free(out);
	free(h);
	TU_CHECK_EQ(hex_decode("abc", &out, &n), -EINVAL);
	TU_CHECK_EQ(hex_decode("zz", &out, &n), -EINVAL);
	uint8_t exact[2];
	TU_CHECK_EQ(hex_decode_exact("0102", exact, 2), 0);
	TU_CHECK_EQ(hex_decode_exact("010203", exact, 2), -EINVAL);

	char *b = base64_encode(bin, sizeof(bin));
	TU_CHECK(strcmp(b, "AAGr/xA=") == 0, "base64 %s", b);
	TU_CHECK_EQ(base64_decode(b, strlen(b), &out, &n), 0);
	TU_CHECK(n == sizeof(bin) && memcmp(out, bin, n) == 0, "base64 round trip");
	free(out);
	free(b);
	TU_CHECK_EQ(base64_decode("AAGr\n/xA=", 9, &out, &n), 0);
	free(out);
	TU_CHECK_EQ(base64_decode("AA=A", 4, &out, &n), -EINVAL);
	TU_CHECK_EQ(base64_decode("AAG", 3, &out, &n), -EINVAL);
	TU_CHECK_EQ(base64_decode("AA*A", 4, &out, &n), -EINVAL);
	TU_CHECK_EQ(base64_decode("", 0, &out, &n), 0);
	TU_CHECK_EQ(n, 0);
	free(out);
}

int main(void)
{
	test_parse();
	test_hex_base64();
	tu_done("common-util");
}
