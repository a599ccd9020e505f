// Kernel ABIs genidd reads, mirrored with fixed-width types and pinned with
// static assertions, so a typo in an offset or an ioctl number breaks the
// build instead of silently reading the wrong word.
//
// Two ABIs live here:
//
//  1. struct vmclock_abi, the page the VMClock device (driver ptp_vmclock,
//     /dev/vmclockN) maps read-only into userspace. Upstream header:
//     include/uapi/linux/vmclock-abi.h in torvalds/linux (first in Linux
//     6.13). vm_generation_counter and flag bit 8 come from mainline commit
//     3495064b6d65 "ptp: vmclock: add vm generation counter", flag bit 9 and
//     poll() from 3b1526ddb254 "ptp: vmclock: support device notifications"
//     (Babis Chalios; series "ptp: vmclock: Add VM generation counter and
//     ACPI notification", v7 posted by Takahiro Itazuri on 2026-01-30,
//     lore 20260130173704.12575-1-itazur@amazon.com; Linux 7.0).
//
//  2. The ioctl numbers of /dev/sysgenid from Adrian Catangiu's (Amazon)
//     "drivers/misc: sysgenid: add system generation id driver" series,
//     include/uapi/linux/sysgenid.h. The series was never merged into
//     mainline, and its ioctl ABI changed between revisions (see below);
//     the v6/v7 revision is the one the Amazon Linux kernel carries
//     (amazonlinux/linux drivers/misc/sysgenid.c) and the one AWS-LC's
//     snapshot-safety tests use (SYSGENID_TRIGGER_GEN_UPDATE = _IO(0xE4, 3)).
//
// Everything in this header is a fact about the kernel side; nothing here
// allocates or calls anything.
#ifndef GENIDD_KERNEL_ABI_H
#define GENIDD_KERNEL_ABI_H

#include <stddef.h>
#include <stdint.h>

#if defined(__linux__)
#include <linux/ioctl.h>
#endif

// ---------------------------------------------------------------------------
// VMClock: struct vmclock_abi (include/uapi/linux/vmclock-abi.h)
// ---------------------------------------------------------------------------
//
// All multi-byte fields are little-endian (__le16/__le32/__le64 upstream).
// The upstream struct is NOT declared packed; every field is naturally
// aligned, so there is no padding and the layout below is byte-identical.
//
// Constant fields: magic, size, version, counter_id, time_type. They never
// change while the device exists.
//
// Everything from seq_count on is protected by the seqcount:
//   writer (hypervisor): seq_count -> odd; update fields; seq_count -> even;
//                        then, if NOTIFICATION_PRESENT, raise the ACPI
//                        notification / interrupt.
//   reader: seq = seq_count & ~1; read barrier; copy fields; read barrier;
//           retry if seq_count != seq (an odd value never equals seq & ~1,
//           so an update in progress always forces a retry). The in-kernel
//           reader (vmclock_get_crosststamp, vmclock_miscdev_read) gives up
//           after 100 ms with -ETIMEDOUT.
//
// size: "Size of region containing this structure" (typically a whole page),
// NOT sizeof(struct vmclock_abi). The driver:
//   - requires size >= offsetof(pad) (= 32, "at least the flags field");
//   - registers the /dev/vmclockN misc device (mmap/read/poll) only when
//     size >= PAGE_SIZE;
//   - treats a field as present when size >= offsetof(field) + sizeof(field)
//     (VMCLOCK_FIELD_PRESENT), and additionally vm_generation_counter is
//     meaningful only when VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT is set.
// version: must be 1 (the driver rejects anything else). New fields are
// appended and advertised by new flag bits, never by a version bump.
//
// /dev/vmclockN file operations (drivers/ptp/ptp_vmclock.c):
//   mmap: exactly one page, offset 0, PROT_READ only (VM_WRITE -> EROFS,
//         wrong length or offset -> EINVAL).
//   read: copies from the page at *ppos under the seqcount (EOF at PAGE_SIZE).
//   poll (Linux 7.0+): POLLHUP at once when NOTIFICATION_PRESENT is clear;
//         otherwise POLLIN|POLLRDNORM while the page's seq_count differs from
//         the seq_count this open file last observed through read() (0 right
//         after open(), so a fresh fd polls readable until its first read()).
//         A read() is what "acknowledges"; poll alone never clears POLLIN.
//
// Note: the uapi-group "UAPI.13 VMClock" text (specs/vmclock.md, v1.0) lists
// vm_generation_count at 0x64 and numbers the generation/notification flags
// 7 and 8 (it omits TIME_MONOTONIC). The Linux header below is what kernels,
// QEMU and Firecracker use: the counter is at 0x68 (104) and the flags are
// bits 8 and 9. The asserts below pin the Linux layout.

#define GENIDD_VMCLOCK_MAGIC 0x4b4c4356u /* "VCLK" little-endian; VMCLOCK_MAGIC */
#define GENIDD_VMCLOCK_VERSION 1u       /* the only version the driver accepts */

/* counter_id (VMCLOCK_COUNTER_*, matches VIRTIO_RTC_COUNTER_* except INVALID) */
#define GENIDD_VMCLOCK_COUNTER_ARM_VCNT 0u
#define GENIDD_VMCLOCK_COUNTER_X86_TSC 1u
#define GENIDD_VMCLOCK_COUNTER_INVALID 0xffu

/* time_type (VMCLOCK_TIME_*, matches VIRTIO_RTC_TYPE_*) */
#define GENIDD_VMCLOCK_TIME_UTC 0u
#define GENIDD_VMCLOCK_TIME_TAI 1u
#define GENIDD_VMCLOCK_TIME_MONOTONIC 2u
#define GENIDD_VMCLOCK_TIME_INVALID_SMEARED 3u
#define GENIDD_VMCLOCK_TIME_INVALID_MAYBE_SMEARED 4u

/* flags (VMCLOCK_FLAG_*), a __le64 at offset 24 */
#define GENIDD_VMCLOCK_FLAG_TAI_OFFSET_VALID (UINT64_C(1) << 0)
#define GENIDD_VMCLOCK_FLAG_DISRUPTION_SOON (UINT64_C(1) << 1)      /* about a day */
#define GENIDD_VMCLOCK_FLAG_DISRUPTION_IMMINENT (UINT64_C(1) << 2)  /* about an hour */
#define GENIDD_VMCLOCK_FLAG_PERIOD_ESTERROR_VALID (UINT64_C(1) << 3)
#define GENIDD_VMCLOCK_FLAG_PERIOD_MAXERROR_VALID (UINT64_C(1) << 4)
#define GENIDD_VMCLOCK_FLAG_TIME_ESTERROR_VALID (UINT64_C(1) << 5)
#define GENIDD_VMCLOCK_FLAG_TIME_MAXERROR_VALID (UINT64_C(1) << 6)
#define GENIDD_VMCLOCK_FLAG_TIME_MONOTONIC (UINT64_C(1) << 7)
/* The hypervisor bumps vm_generation_counter on every restore from a
 * snapshot (Linux 7.0; "ptp: vmclock: add vm generation counter"). */
#define GENIDD_VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT (UINT64_C(1) << 8)
/* The hypervisor sends an ACPI notification / interrupt every time it moves
 * seq_count to a new even value; poll() on /dev/vmclockN works only then
 * (Linux 7.0; "ptp: vmclock: support device notifications"). */
#define GENIDD_VMCLOCK_FLAG_NOTIFICATION_PRESENT (UINT64_C(1) << 9)

/* clock_status (VMCLOCK_STATUS_*) */
#define GENIDD_VMCLOCK_STATUS_UNKNOWN 0u
#define GENIDD_VMCLOCK_STATUS_INITIALIZING 1u
#define GENIDD_VMCLOCK_STATUS_SYNCHRONIZED 2u
#define GENIDD_VMCLOCK_STATUS_FREERUNNING 3u
#define GENIDD_VMCLOCK_STATUS_UNRELIABLE 4u

/* leap_second_smearing_hint (VMCLOCK_SMEARING_*, VIRTIO_RTC_SUBTYPE_*) */
#define GENIDD_VMCLOCK_SMEARING_STRICT 0u
#define GENIDD_VMCLOCK_SMEARING_NOON_LINEAR 1u
#define GENIDD_VMCLOCK_SMEARING_UTC_SLS 2u

/* leap_indicator (VMCLOCK_LEAP_*) */
#define GENIDD_VMCLOCK_LEAP_NONE 0x00u
#define GENIDD_VMCLOCK_LEAP_PRE_POS 0x01u
#define GENIDD_VMCLOCK_LEAP_PRE_NEG 0x02u
#define GENIDD_VMCLOCK_LEAP_POS 0x03u
#define GENIDD_VMCLOCK_LEAP_POST_POS 0x04u
#define GENIDD_VMCLOCK_LEAP_POST_NEG 0x05u

/// Mirror of struct vmclock_abi (Linux 7.0 layout, 112 bytes). Fields are
/// little-endian; read them from the mapping with volatile loads inside the
/// seq_count loop.
struct genidd_vmclock_abi {
    /* CONSTANT FIELDS */
    uint32_t magic;      /* 0x00 VMCLOCK_MAGIC */
    uint32_t size;       /* 0x04 size of the region holding the structure */
    uint16_t version;    /* 0x08 1 */
    uint8_t counter_id;  /* 0x0a VMCLOCK_COUNTER_* */
    uint8_t time_type;   /* 0x0b VMCLOCK_TIME_* */

    /* NON-CONSTANT FIELDS PROTECTED BY SEQCOUNT LOCK */
    uint32_t seq_count;           /* 0x0c low bit set: update in progress */
    uint64_t disruption_marker;   /* 0x10 changes to another non-repeating
                                     value when the counter is disrupted,
                                     e.g. on live migration */
    uint64_t flags;               /* 0x18 VMCLOCK_FLAG_* */
    uint8_t pad[2];               /* 0x20 (offsetof(pad) = VMCLOCK_MIN_SIZE) */
    uint8_t clock_status;         /* 0x22 VMCLOCK_STATUS_* */
    uint8_t leap_second_smearing_hint; /* 0x23 VMCLOCK_SMEARING_* */
    uint16_t tai_offset_sec;      /* 0x24 two's complement signed */
    uint8_t leap_indicator;       /* 0x26 VMCLOCK_LEAP_* */
    uint8_t counter_period_shift; /* 0x27 */
    uint64_t counter_value;       /* 0x28 counter at time_sec/time_frac_sec */
    uint64_t counter_period_frac_sec;               /* 0x30 1/2^(64+shift) s */
    uint64_t counter_period_esterror_rate_frac_sec; /* 0x38 */
    uint64_t counter_period_maxerror_rate_frac_sec; /* 0x40 */
    uint64_t time_sec;            /* 0x48 seconds since time_type epoch */
    uint64_t time_frac_sec;       /* 0x50 units of 1/2^64 s */
    uint64_t time_esterror_nanosec; /* 0x58 */
    uint64_t time_maxerror_nanosec; /* 0x60 */
    /* Added in Linux 7.0: changes to another non-repeating value when the
     * guest has been loaded from a snapshot. Valid only when
     * VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT is set. */
    uint64_t vm_generation_counter; /* 0x68 */
};

#define GENIDD_VMCLOCK_ASSERT_FIELD(field, offset, width)                        \
    _Static_assert(offsetof(struct genidd_vmclock_abi, field) == (offset),       \
                   "vmclock_abi." #field " must be at offset " #offset);         \
    _Static_assert(sizeof(((struct genidd_vmclock_abi *)0)->field) == (width),   \
                   "vmclock_abi." #field " must be " #width " bytes")

GENIDD_VMCLOCK_ASSERT_FIELD(magic, 0, 4);
GENIDD_VMCLOCK_ASSERT_FIELD(size, 4, 4);
GENIDD_VMCLOCK_ASSERT_FIELD(version, 8, 2);
GENIDD_VMCLOCK_ASSERT_FIELD(counter_id, 10, 1);
GENIDD_VMCLOCK_ASSERT_FIELD(time_type, 11, 1);
GENIDD_VMCLOCK_ASSERT_FIELD(seq_count, 12, 4);
GENIDD_VMCLOCK_ASSERT_FIELD(disruption_marker, 16, 8);
GENIDD_VMCLOCK_ASSERT_FIELD(flags, 24, 8);
GENIDD_VMCLOCK_ASSERT_FIELD(pad, 32, 2);
GENIDD_VMCLOCK_ASSERT_FIELD(clock_status, 34, 1);
GENIDD_VMCLOCK_ASSERT_FIELD(leap_second_smearing_hint, 35, 1);
GENIDD_VMCLOCK_ASSERT_FIELD(tai_offset_sec, 36, 2);
GENIDD_VMCLOCK_ASSERT_FIELD(leap_indicator, 38, 1);
GENIDD_VMCLOCK_ASSERT_FIELD(counter_period_shift, 39, 1);
GENIDD_VMCLOCK_ASSERT_FIELD(counter_value, 40, 8);
GENIDD_VMCLOCK_ASSERT_FIELD(counter_period_frac_sec, 48, 8);
GENIDD_VMCLOCK_ASSERT_FIELD(counter_period_esterror_rate_frac_sec, 56, 8);
GENIDD_VMCLOCK_ASSERT_FIELD(counter_period_maxerror_rate_frac_sec, 64, 8);
GENIDD_VMCLOCK_ASSERT_FIELD(time_sec, 72, 8);
GENIDD_VMCLOCK_ASSERT_FIELD(time_frac_sec, 80, 8);
GENIDD_VMCLOCK_ASSERT_FIELD(time_esterror_nanosec, 88, 8);
GENIDD_VMCLOCK_ASSERT_FIELD(time_maxerror_nanosec, 96, 8);
GENIDD_VMCLOCK_ASSERT_FIELD(vm_generation_counter, 104, 8);
_Static_assert(sizeof(struct genidd_vmclock_abi) == 112,
               "struct vmclock_abi is 112 bytes (104 before Linux 7.0)");
_Static_assert(_Alignof(struct genidd_vmclock_abi) == 8,
               "struct vmclock_abi is naturally aligned, not packed");

/* The driver's minimum: "Require at least the flags field to be present"
 * (VMCLOCK_MIN_SIZE = offsetof(struct vmclock_abi, pad)). */
#define GENIDD_VMCLOCK_MIN_SIZE ((uint32_t)offsetof(struct genidd_vmclock_abi, pad))
_Static_assert(offsetof(struct genidd_vmclock_abi, pad) == 32, "VMCLOCK_MIN_SIZE is 32");

/* VMCLOCK_FIELD_PRESENT: whether a region of `region_size` bytes (the
 * little-endian-decoded `size` field) contains `field`. */
#define GENIDD_VMCLOCK_FIELD_PRESENT(region_size, field)                         \
    ((uint64_t)(region_size) >= (uint64_t)offsetof(struct genidd_vmclock_abi, field) + \
                                    sizeof(((struct genidd_vmclock_abi *)0)->field))

// ---------------------------------------------------------------------------
// sysgenid: include/uapi/linux/sysgenid.h (Adrian Catangiu, Amazon; never
// merged into mainline)
// ---------------------------------------------------------------------------
//
// Every sysgenid ioctl is _IO (no direction, no size): the argument is the
// raw `unsigned long arg` of ioctl(2), passed BY VALUE, never a pointer, and
// results come back as the ioctl return value.
//
// Revision history of the uapi header (all from the posted patches):
//   v4 (2021-01-12, lkml 1610453760-13812-2-git-send-email-acatan@amazon.com):
//       SYSGENID_IOCTL 0x2d
//       SYSGENID_GET_OUTDATED_WATCHERS _IO(0x2d, 1)
//       SYSGENID_WAIT_WATCHERS         _IO(0x2d, 2)
//       SYSGENID_FORCE_GEN_UPDATE      _IO(0x2d, 3)
//   v5 (2021-02-01, 1612200294-17561-2-git-send-email-acatan@amazon.com):
//       magic moved to 0xE4 (registered in ioctl-number.rst as 0xE4 01-02),
//       GET_OUTDATED_WATCHERS removed:
//       SYSGENID_WAIT_WATCHERS         _IO(0xE4, 1)
//       SYSGENID_FORCE_GEN_UPDATE      _IO(0xE4, 2)
//   v6 (2021-02-22, 1613986886-29493-2-git-send-email-acatan@amazon.com),
//   v7 (2021-03-08, lkml.org/lkml/2021/3/8/677, cited by AWS-LC) and the
//   Amazon Linux kernel: watcher tracking became opt-in, FORCE -> TRIGGER:
//       SYSGENID_SET_WATCHER_TRACKING  _IO(0xE4, 1)
//       SYSGENID_WAIT_WATCHERS         _IO(0xE4, 2)
//       SYSGENID_TRIGGER_GEN_UPDATE    _IO(0xE4, 3)
//
// Semantics (drivers/misc/sysgenid.c of the same revisions):
//   GET_OUTDATED_WATCHERS (v4): arg ignored; returns (>= 0) the number of
//       open file descriptions that lived through a generation change and
//       have not write()n the new counter back.
//   WAIT_WATCHERS: arg = timeout in MILLISECONDS, by value; 0 = no timeout.
//       Sleeps (interruptibly, hrtimer) until no watcher is outdated or the
//       calling fd itself becomes outdated.
//       v4 return: 0 if no watcher is outdated afterwards, otherwise -EINTR
//           (also on timeout and on a signal; the caller being outdated
//           counts, so ack your own fd first).
//       v5 return: the raw wait result: 0, -ETIME on timeout, -ERESTARTSYS
//           on a signal.
//       v6/v7 return: -EINTR if the calling fd is outdated; else 0 when all
//           tracked watchers are up to date, -ETIME on timeout,
//           -ERESTARTSYS (EINTR) on a signal.
//   FORCE_GEN_UPDATE (v4/v5) / TRIGGER_GEN_UPDATE (v6/v7): arg = minimum
//       generation, by value; new counter = max(arg, counter + 1) (compared
//       as int); returns 0. Needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN
//       in the caller's user namespace, else -EACCES.
//   SET_WATCHER_TRACKING (v6/v7): arg != 0 starts counting this fd as a
//       watcher (outdated immediately if its counter is stale), arg == 0
//       stops; returns 0. Before v6 every open fd was a watcher.
//   Unknown ioctl: -EINVAL (not -ENOTTY).
//
// Other file operations (unchanged v4..v7): open() records the current
// counter for the fd; read() with count 0 returns 0, count < 4 -> EINVAL,
// otherwise blocks (O_NONBLOCK: EAGAIN) until the fd is outdated and copies
// 4 bytes (native-endian u32; all supported hosts are little-endian), return
// value 4; write() of anything but exactly 4 bytes -> EINVAL (v4/v5) or
// ENOBUFS (Amazon Linux driver), a value other than the current counter -> EINVAL, else
// the fd is up to date; poll() -> EPOLLIN|EPOLLRDNORM while outdated;
// mmap() -> one read-only page, u32 counter at offset 0.

#define GENIDD_SYSGENID_COUNTER_SIZE 4u /* read()/write() size: a u32 */

/* v4 (the revision with GET_OUTDATED_WATCHERS) */
#define GENIDD_SYSGENID_V4_IOCTL_MAGIC 0x2d
/* v5 and later */
#define GENIDD_SYSGENID_V5_IOCTL_MAGIC 0xE4

#if defined(__linux__)
#define GENIDD_SYSGENID_V4_GET_OUTDATED_WATCHERS _IO(GENIDD_SYSGENID_V4_IOCTL_MAGIC, 1)
#define GENIDD_SYSGENID_V4_WAIT_WATCHERS _IO(GENIDD_SYSGENID_V4_IOCTL_MAGIC, 2)
#define GENIDD_SYSGENID_V4_FORCE_GEN_UPDATE _IO(GENIDD_SYSGENID_V4_IOCTL_MAGIC, 3)

#define GENIDD_SYSGENID_V5_WAIT_WATCHERS _IO(GENIDD_SYSGENID_V5_IOCTL_MAGIC, 1)
#define GENIDD_SYSGENID_V5_FORCE_GEN_UPDATE _IO(GENIDD_SYSGENID_V5_IOCTL_MAGIC, 2)

#define GENIDD_SYSGENID_V7_SET_WATCHER_TRACKING _IO(GENIDD_SYSGENID_V5_IOCTL_MAGIC, 1)
#define GENIDD_SYSGENID_V7_WAIT_WATCHERS _IO(GENIDD_SYSGENID_V5_IOCTL_MAGIC, 2)
#define GENIDD_SYSGENID_V7_TRIGGER_GEN_UPDATE _IO(GENIDD_SYSGENID_V5_IOCTL_MAGIC, 3)

/* The unsuffixed names follow the brief's reference revision (v4, magic 0x2d,
 * the one in shared/seeds/004). */
#define GENIDD_SYSGENID_IOCTL GENIDD_SYSGENID_V4_IOCTL_MAGIC
#define GENIDD_SYSGENID_GET_OUTDATED_WATCHERS GENIDD_SYSGENID_V4_GET_OUTDATED_WATCHERS
#define GENIDD_SYSGENID_WAIT_WATCHERS GENIDD_SYSGENID_V4_WAIT_WATCHERS
#define GENIDD_SYSGENID_FORCE_GEN_UPDATE GENIDD_SYSGENID_V4_FORCE_GEN_UPDATE

/* On the architectures whose _IOC_NONE is 0 (x86, arm, arm64, riscv, s390),
 * _IO(type, nr) is simply (type << 8) | nr. */
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || defined(__arm__) || \
    defined(__riscv) || defined(__s390x__)
_Static_assert(GENIDD_SYSGENID_V4_GET_OUTDATED_WATCHERS == 0x2d01, "_IO(0x2d, 1)");
_Static_assert(GENIDD_SYSGENID_V4_WAIT_WATCHERS == 0x2d02, "_IO(0x2d, 2)");
_Static_assert(GENIDD_SYSGENID_V4_FORCE_GEN_UPDATE == 0x2d03, "_IO(0x2d, 3)");
_Static_assert(GENIDD_SYSGENID_V5_WAIT_WATCHERS == 0xe401, "_IO(0xE4, 1)");
_Static_assert(GENIDD_SYSGENID_V5_FORCE_GEN_UPDATE == 0xe402, "_IO(0xE4, 2)");
_Static_assert(GENIDD_SYSGENID_V7_SET_WATCHER_TRACKING == 0xe401, "_IO(0xE4, 1)");
_Static_assert(GENIDD_SYSGENID_V7_WAIT_WATCHERS == 0xe402, "_IO(0xE4, 2)");
_Static_assert(GENIDD_SYSGENID_V7_TRIGGER_GEN_UPDATE == 0xe403, "_IO(0xE4, 3)");
#endif

#endif /* __linux__ */

#endif /* GENIDD_KERNEL_ABI_H */
