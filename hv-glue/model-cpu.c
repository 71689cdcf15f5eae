/* The model vCPU (model-cpu.h): MOV AL,imm8 (B0), MOV DX,imm16 (BA), OUT DX,AL (EE),
 * MOV byte [disp16],imm8 (C6 06), JMP rel8 (EB) and HLT (F4), in real mode (Intel SDM vol. 2
 * for the encodings). Trusts nothing in guest memory: every fetch and store is bounds-checked
 * against mem_size. */
#include "hv-glue/model-cpu.h"

#include <stdbool.h>

static bool fetch(const struct hv_model_cpu *c, const uint8_t *mem, uint64_t size, unsigned off,
		  uint8_t *ret)
{
	uint64_t at = (uint64_t)c->cs_base + (uint16_t)(c->ip + off);

	if (at >= size)
		return false;
	*ret = mem[at];
	return true;
}

static bool fetch16(const struct hv_model_cpu *c, const uint8_t *mem, uint64_t size,
		    unsigned off, uint16_t *ret)
{
	uint8_t lo, hi;

	if (!fetch(c, mem, size, off, &lo) || !fetch(c, mem, size, off + 1, &hi))
		return false;
	*ret = (uint16_t)(lo | hi << 8);
	return true;
}

/* One instruction; HV_MODEL_BUDGET means "went on, no exit". */
static enum hv_model_stop step(struct hv_model_cpu *c, uint8_t *mem, uint64_t size,
			       uint16_t *ret_port, uint8_t *ret_val)
{
	uint8_t op, b, imm;
	uint16_t w;

	if (!fetch(c, mem, size, 0, &op))
		return HV_MODEL_UNKNOWN;
	switch (op) {
	case 0xb0: /* MOV AL, imm8 */
		if (!fetch(c, mem, size, 1, &c->al))
			return HV_MODEL_UNKNOWN;
		c->ip += 2;
		return HV_MODEL_BUDGET;
	case 0xba: /* MOV DX, imm16 */
		if (!fetch16(c, mem, size, 1, &c->dx))
			return HV_MODEL_UNKNOWN;
		c->ip += 3;
		return HV_MODEL_BUDGET;
	case 0xee: /* OUT DX, AL */
		c->ip += 1;
		*ret_port = c->dx;
		*ret_val = c->al;
		return HV_MODEL_OUT;
	case 0xc6: /* MOV r/m8, imm8 with ModRM 06: [disp16] (DS base 0) */
		if (!fetch(c, mem, size, 1, &b) || b != 0x06 || !fetch16(c, mem, size, 2, &w) ||
		    !fetch(c, mem, size, 4, &imm) || w >= size)
			return HV_MODEL_UNKNOWN;
		mem[w] = imm;
		c->ip += 5;
		return HV_MODEL_BUDGET;
	case 0xeb: /* JMP rel8 */
		if (!fetch(c, mem, size, 1, &b))
			return HV_MODEL_UNKNOWN;
		c->ip = (uint16_t)(c->ip + 2 + (int8_t)b);
		return HV_MODEL_BUDGET;
	case 0xf4: /* HLT */
		c->ip += 1;
		return HV_MODEL_HLT;
	default:
		return HV_MODEL_UNKNOWN;
	}
}

enum hv_model_stop hv_model_cpu_run(struct hv_model_cpu *c, uint8_t *mem, uint64_t mem_size,
				    unsigned budget, uint16_t *ret_port, uint8_t *ret_val)
{
	for (unsigned i = 0; i < budget; i++) {
		enum hv_model_stop s = step(c, mem, mem_size, ret_port, ret_val);
		if (s != HV_MODEL_BUDGET)
			return s;
	}
	return HV_MODEL_BUDGET;
}
