/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kportreserve selftests: a minimal io_uring, with raw system calls.
 *
 * Only what the tests need: one ring without SQPOLL, one request at a time,
 * and personalities.  The layouts and numbers are those of
 * include/uapi/linux/io_uring.h; they are copied here (with kpr_ names) so
 * that the tests build against any libc headers.
 */

#ifndef KPR_URING_H
#define KPR_URING_H

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif
#ifndef __NR_io_uring_enter
#define __NR_io_uring_enter 426
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register 427
#endif

/* enum io_uring_op */
#define KPR_OP_NOP 0
#define KPR_OP_SENDMSG 9
#define KPR_OP_CONNECT 16
#define KPR_OP_SOCKET 45
#define KPR_OP_BIND 56

/* sqe->flags */
#define KPR_IOSQE_ASYNC 0x10U	/* bit 4, IOSQE_ASYNC_BIT */

#define KPR_ENTER_GETEVENTS 0x1U
#define KPR_FEAT_SINGLE_MMAP 0x1U
#define KPR_OFF_SQ_RING 0ULL
#define KPR_OFF_CQ_RING 0x8000000ULL
#define KPR_OFF_SQES 0x10000000ULL
#define KPR_REGISTER_PERSONALITY 9

/* struct io_uring_sqe, with the fields the tests use. */
struct kpr_sqe {
	uint8_t opcode;
	uint8_t flags;
	uint16_t ioprio;
	int32_t fd;
	uint64_t off;		/* off, addr2 */
	uint64_t addr;
	uint32_t len;
	uint32_t op_flags;	/* msg_flags, rw_flags... */
	uint64_t user_data;
	uint16_t buf_index;
	uint16_t personality;
	uint32_t file_index;
	uint64_t addr3;
	uint64_t pad2;
};

struct kpr_cqe {
	uint64_t user_data;
	int32_t res;
	uint32_t flags;
};

struct kpr_sqring_offsets {
	uint32_t head, tail, ring_mask, ring_entries, flags, dropped, array;
	uint32_t resv1;
	uint64_t user_addr;
};

struct kpr_cqring_offsets {
	uint32_t head, tail, ring_mask, ring_entries, overflow, cqes, flags;
	uint32_t resv1;
	uint64_t user_addr;
};

struct kpr_uring_params {
	uint32_t sq_entries;
	uint32_t cq_entries;
	uint32_t flags;
	uint32_t sq_thread_cpu;
	uint32_t sq_thread_idle;
	uint32_t features;
	uint32_t wq_fd;
	uint32_t resv[3];
	struct kpr_sqring_offsets sq_off;
	struct kpr_cqring_offsets cq_off;
};

static_assert(sizeof(struct kpr_sqe) == 64, "io_uring_sqe layout");
static_assert(sizeof(struct kpr_uring_params) == 120, "io_uring_params");

struct kpr_ring {
	int fd;
	void *sq_ring, *cq_ring;
	size_t sq_ring_size, cq_ring_size;
	struct kpr_sqe *sqes;
	size_t sqes_size;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct kpr_cqe *cqes;
};

/* Sets up @ring with @entries entries; returns 0 or -errno. */
static inline int ring_init(struct kpr_ring *ring, unsigned int entries)
{
	struct kpr_uring_params p;
	int err;

	memset(&p, 0, sizeof(p));
	memset(ring, 0, sizeof(*ring));
	ring->fd = syscall(__NR_io_uring_setup, entries, &p);
	if (ring->fd < 0)
		return -errno;

	ring->sq_ring_size = p.sq_off.array +
			     p.sq_entries * sizeof(unsigned int);
	ring->cq_ring_size = p.cq_off.cqes +
			     p.cq_entries * sizeof(struct kpr_cqe);
	if (p.features & KPR_FEAT_SINGLE_MMAP) {
		if (ring->cq_ring_size > ring->sq_ring_size)
			ring->sq_ring_size = ring->cq_ring_size;
		ring->cq_ring_size = ring->sq_ring_size;
	}
	ring->sq_ring = mmap(NULL, ring->sq_ring_size, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_POPULATE, ring->fd,
			     KPR_OFF_SQ_RING);
	if (ring->sq_ring == MAP_FAILED)
		goto fail;
	if (p.features & KPR_FEAT_SINGLE_MMAP) {
		ring->cq_ring = ring->sq_ring;
	} else {
		ring->cq_ring = mmap(NULL, ring->cq_ring_size,
				     PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_POPULATE, ring->fd,
				     KPR_OFF_CQ_RING);
		if (ring->cq_ring == MAP_FAILED)
			goto fail;
	}
	ring->sqes_size = p.sq_entries * sizeof(struct kpr_sqe);
	ring->sqes = mmap(NULL, ring->sqes_size, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_POPULATE, ring->fd, KPR_OFF_SQES);
	if (ring->sqes == MAP_FAILED)
		goto fail;

	ring->sq_tail = (unsigned int *)((char *)ring->sq_ring + p.sq_off.tail);
	ring->sq_mask = (unsigned int *)((char *)ring->sq_ring +
					 p.sq_off.ring_mask);
	ring->sq_array = (unsigned int *)((char *)ring->sq_ring +
					  p.sq_off.array);
	ring->cq_head = (unsigned int *)((char *)ring->cq_ring + p.cq_off.head);
	ring->cq_tail = (unsigned int *)((char *)ring->cq_ring + p.cq_off.tail);
	ring->cq_mask = (unsigned int *)((char *)ring->cq_ring +
					 p.cq_off.ring_mask);
	ring->cqes = (struct kpr_cqe *)((char *)ring->cq_ring + p.cq_off.cqes);
	return 0;

fail:
	err = -errno;
	close(ring->fd);
	return err;
}

static inline void ring_exit(struct kpr_ring *ring)
{
	munmap(ring->sqes, ring->sqes_size);
	if (ring->cq_ring != ring->sq_ring)
		munmap(ring->cq_ring, ring->cq_ring_size);
	munmap(ring->sq_ring, ring->sq_ring_size);
	close(ring->fd);
}

/*
 * Submits @sqe and waits for its completion; returns 0 with its result in
 * @res (a count, a descriptor or -errno), or -errno if io_uring failed.
 */
static inline int ring_run(struct kpr_ring *ring, const struct kpr_sqe *sqe,
			   int *res)
{
	unsigned int tail, head, idx;

	tail = *ring->sq_tail;
	idx = tail & *ring->sq_mask;
	ring->sqes[idx] = *sqe;
	ring->sq_array[idx] = idx;
	__atomic_store_n(ring->sq_tail, tail + 1, __ATOMIC_RELEASE);

	if (syscall(__NR_io_uring_enter, ring->fd, 1, 1, KPR_ENTER_GETEVENTS,
		    NULL, 0) < 0)
		return -errno;
	for (;;) {
		head = *ring->cq_head;
		if (head != __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE))
			break;
		if (syscall(__NR_io_uring_enter, ring->fd, 0, 1,
			    KPR_ENTER_GETEVENTS, NULL, 0) < 0 &&
		    errno != EINTR)
			return -errno;
	}
	*res = ring->cqes[head & *ring->cq_mask].res;
	__atomic_store_n(ring->cq_head, head + 1, __ATOMIC_RELEASE);
	return 0;
}

/* Registers the credentials of the caller; returns the id or -errno. */
static inline int ring_register_personality(struct kpr_ring *ring)
{
	int id = syscall(__NR_io_uring_register, ring->fd,
			 KPR_REGISTER_PERSONALITY, NULL, 0);

	return id < 0 ? -errno : id;
}

/* Requests. */

static inline struct kpr_sqe sqe_socket(int domain, int type, int protocol)
{
	struct kpr_sqe sqe = {
		.opcode = KPR_OP_SOCKET,
		.fd = domain,
		.off = type,
		.len = protocol,
	};

	return sqe;
}

static inline struct kpr_sqe sqe_connect(int fd, const void *addr,
					 unsigned int len)
{
	struct kpr_sqe sqe = {
		.opcode = KPR_OP_CONNECT,
		.fd = fd,
		.addr = (uintptr_t)addr,
		.off = len,
	};

	return sqe;
}

static inline struct kpr_sqe sqe_bind(int fd, const void *addr,
				      unsigned int len)
{
	struct kpr_sqe sqe = {
		.opcode = KPR_OP_BIND,
		.fd = fd,
		.addr = (uintptr_t)addr,
		.off = len,
	};

	return sqe;
}

static inline struct kpr_sqe sqe_sendmsg(int fd, const void *msg)
{
	struct kpr_sqe sqe = {
		.opcode = KPR_OP_SENDMSG,
		.fd = fd,
		.addr = (uintptr_t)msg,
		.len = 1,
	};

	return sqe;
}

#endif /* KPR_URING_H */
