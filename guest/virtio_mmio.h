/*
 * virtio 1.x over virtio-mmio (register layout version 2), the part the
 * block and network drivers share: registers, split-virtqueue layout,
 * finding a device and bringing it up. Ring 0 only.
 */
#ifndef MOLT_GUEST_VIRTIO_MMIO_H
#define MOLT_GUEST_VIRTIO_MMIO_H

#include "kernel.h"

/* virtio-mmio registers (virtio 1.x spec, 4.2.2) */
#define VM_MAGIC 0x000
#define VM_VERSION 0x004
#define VM_DEVICE_ID 0x008
#define VM_DEVICE_FEATURES 0x010
#define VM_DEVICE_FEATURES_SEL 0x014
#define VM_DRIVER_FEATURES 0x020
#define VM_DRIVER_FEATURES_SEL 0x024
#define VM_QUEUE_SEL 0x030
#define VM_QUEUE_NUM_MAX 0x034
#define VM_QUEUE_NUM 0x038
#define VM_QUEUE_READY 0x044
#define VM_QUEUE_NOTIFY 0x050
#define VM_INTERRUPT_STATUS 0x060
#define VM_INTERRUPT_ACK 0x064
#define VM_STATUS 0x070
#define VM_QUEUE_DESC_LO 0x080
#define VM_QUEUE_DESC_HI 0x084
#define VM_QUEUE_DRIVER_LO 0x090
#define VM_QUEUE_DRIVER_HI 0x094
#define VM_QUEUE_DEVICE_LO 0x0a0
#define VM_QUEUE_DEVICE_HI 0x0a4
#define VM_CONFIG 0x100

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2

/* Ring entries the drivers' structures have room for; a queue may be
 * smaller (without VIRTIO_F_EVENT_IDX the fields after the rings are
 * unused, so one layout serves every size up to this). */
#define VQ_MAX 64
#define D_NEXT 1
#define D_WRITE 2

struct desc {
    u64 addr;
    u32 len;
    u16 flags, next;
};
struct avail {
    u16 flags, idx, ring[VQ_MAX], used_event;
};
struct used_elem {
    u32 id, len;
};
struct used {
    u16 flags, idx;
    struct used_elem ring[VQ_MAX];
    u16 avail_event;
};

/* One split virtqueue: the three areas (each in its own page) and the
 * driver's view of the used index. */
struct vq {
    struct desc desc[VQ_MAX] __attribute__((aligned(4096)));
    struct avail avail __attribute__((aligned(4096)));
    struct used used __attribute__((aligned(4096)));
    u16 size, used_seen;
};

static inline u32 vm_rd(u64 base, u32 off) { return *(volatile u32 *)(base + off); }
static inline void vm_wr(u64 base, u32 off, u32 v) { *(volatile u32 *)(base + off) = v; }

/* Base of the first transport on the command line that holds a version-2
 * device of this id, after 'after' (0: from the first); 0 if none. */
u64 virtio_find(u32 device_id, u64 after);
/* Reset, ACKNOWLEDGE, DRIVER, features = VERSION_1 + the low word given
 * (when the device offers them all), FEATURES_OK read back; 1 on success. */
int virtio_negotiate(u64 base, u32 features_lo);
/* Queue q of 'size' entries (a power of 2 <= VQ_MAX) on vq, made ready. */
int virtio_queue_setup(u64 base, u32 q, struct vq *vq, u16 size);
void virtio_driver_ok(u64 base);
/* Makes avail ring entry 'head' visible to the device (does not notify). */
void vq_push(struct vq *vq, u16 head);
/* The next used element, or 0 when the device has given back nothing new. */
struct used_elem *vq_pop(struct vq *vq);

#endif
