/*
 * The virtio-mmio transport as the block and network drivers use it (see
 * virtio_mmio.h). Devices are found where the command line says, as Linux
 * finds them on a microvm: "virtio_mmio.device=<size>@<base>:<irq>".
 * Everything is polled: the drivers never take the devices' interrupts
 * (their IOAPIC pins stay masked) and acknowledge them as they go.
 */
#include "virtio_mmio.h"

#define MAGIC 0x74726976u               /* "virt" */
#define ST_ACKNOWLEDGE 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8
#define F_VERSION_1_HI 1u               /* feature bit 32: word 1, bit 0 */

u64 virtio_find(u32 device_id, u64 after)
{
    u32 i = 0;
    if (after)
        while (i < cfg.nvirtio && cfg.virtio_base[i++] != after)
            ;
    for (; i < cfg.nvirtio; i++) {
        u64 b = cfg.virtio_base[i];
        if (vm_rd(b, VM_MAGIC) == MAGIC && vm_rd(b, VM_VERSION) == 2 && vm_rd(b, VM_DEVICE_ID) == device_id)
            return b;
    }
    return 0;
}

int virtio_negotiate(u64 base, u32 features_lo)
{
    vm_wr(base, VM_STATUS, 0);
    vm_wr(base, VM_STATUS, ST_ACKNOWLEDGE);
    vm_wr(base, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER);
    vm_wr(base, VM_DEVICE_FEATURES_SEL, 1);
    if (!(vm_rd(base, VM_DEVICE_FEATURES) & F_VERSION_1_HI))
        return 0;
    vm_wr(base, VM_DEVICE_FEATURES_SEL, 0);
    if ((vm_rd(base, VM_DEVICE_FEATURES) & features_lo) != features_lo)
        return 0;
    vm_wr(base, VM_DRIVER_FEATURES_SEL, 0);
    vm_wr(base, VM_DRIVER_FEATURES, features_lo);
    vm_wr(base, VM_DRIVER_FEATURES_SEL, 1);
    vm_wr(base, VM_DRIVER_FEATURES, F_VERSION_1_HI);
    vm_wr(base, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
    return (vm_rd(base, VM_STATUS) & ST_FEATURES_OK) != 0;
}

int virtio_queue_setup(u64 base, u32 q, struct vq *vq, u16 size)
{
    vm_wr(base, VM_QUEUE_SEL, q);
    if (vm_rd(base, VM_QUEUE_NUM_MAX) < size)
        return 0;
    vq->size = size;
    vq->used_seen = vq->used.idx;
    vm_wr(base, VM_QUEUE_NUM, size);
    vm_wr(base, VM_QUEUE_DESC_LO, (u32)(u64)vq->desc);
    vm_wr(base, VM_QUEUE_DESC_HI, (u32)((u64)vq->desc >> 32));
    vm_wr(base, VM_QUEUE_DRIVER_LO, (u32)(u64)&vq->avail);
    vm_wr(base, VM_QUEUE_DRIVER_HI, (u32)((u64)&vq->avail >> 32));
    vm_wr(base, VM_QUEUE_DEVICE_LO, (u32)(u64)&vq->used);
    vm_wr(base, VM_QUEUE_DEVICE_HI, (u32)((u64)&vq->used >> 32));
    vm_wr(base, VM_QUEUE_READY, 1);
    return 1;
}

void virtio_driver_ok(u64 base)
{
    vm_wr(base, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
}

void vq_push(struct vq *vq, u16 head)
{
    vq->avail.ring[vq->avail.idx % vq->size] = head;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    vq->avail.idx = (u16)(vq->avail.idx + 1);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

struct used_elem *vq_pop(struct vq *vq)
{
    if (*(volatile u16 *)&vq->used.idx == vq->used_seen)
        return 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    struct used_elem *e = &vq->used.ring[vq->used_seen % vq->size];
    vq->used_seen = (u16)(vq->used_seen + 1);
    return e;
}
