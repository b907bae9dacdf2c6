"""Memory the NIC reads and writes: where it lives and what bus address the device sees.

Two ways, like ixy and Snabb:
- `HugepageMemory`: 2 MiB hugepages (physically contiguous each) whose physical addresses come
  from /proc/self/pagemap; the device gets physical addresses (no IOMMU, needs root);
- `VfioMemory`: any memory mapped into the device's IOMMU domain through a VFIO container at
  an IOVA chosen here; the device gets IOVAs and can reach nothing else (the safe way).

`DmaArena` hands out small aligned pieces (descriptor rings, copy-mode buffers) that never cross
a page the device may see apart from its neighbour.
"""

import ctypes
import mmap
import os
import struct
from collections.abc import Callable

from target.driver.intel.errors import IntelDriverError

HUGEPAGE = 2 << 20
MAP_HUGETLB = 0x40000
PAGEMAP_PRESENT = 1 << 63
PAGEMAP_PFN_MASK = (1 << 55) - 1


class DmaError(IntelDriverError):
    """DMA memory cannot be set up (no hugepages, no rights, no IOMMU); the message says why."""


def _address_of(buffer: mmap.mmap) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))


class DmaMemory:
    """A mapped region with bus addresses; subclasses say how bus(offset) is found."""

    buffer: mmap.mmap
    virt: int
    size: int
    page: int                   # bus addresses are contiguous within aligned pages of this size
    space = "bus"               # which address space bus() values belong to: memory of one
                                # space is usable by every device that shares that space

    def bus(self, offset: int) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


def virt_to_phys(virt: int, pagemap_path: str = "/proc/self/pagemap") -> int:
    """Physical address of a mapped, faulted-in virtual address (root only)."""
    try:
        with open(pagemap_path, "rb") as f:
            f.seek((virt // mmap.PAGESIZE) * 8)
            (entry,) = struct.unpack("<Q", f.read(8))
    except PermissionError as e:
        raise DmaError("reading physical addresses from /proc/self/pagemap needs root "
                       "(CAP_SYS_ADMIN); run as root or use VFIO (access=vfio)") from e
    if not entry & PAGEMAP_PRESENT:
        raise DmaError(f"page at {virt:#x} is not present; touch it before translating")
    pfn = entry & PAGEMAP_PFN_MASK
    if pfn == 0:
        raise DmaError("/proc/self/pagemap hides physical addresses from this process "
                       "(it needs CAP_SYS_ADMIN); run as root or use VFIO (access=vfio)")
    return pfn * mmap.PAGESIZE + virt % mmap.PAGESIZE


class HugepageMemory(DmaMemory):
    page = HUGEPAGE
    space = "physical"          # every device without IOMMU translation sees these addresses

    def __init__(self, size: int) -> None:
        self.size = -(-size // HUGEPAGE) * HUGEPAGE
        try:
            self.buffer = mmap.mmap(-1, self.size, flags=mmap.MAP_SHARED | MAP_HUGETLB)
        except OSError as e:
            free = _hugepages_free()
            raise DmaError(f"cannot map {self.size >> 20} MiB of 2 MiB hugepages ({free} free): "
                           f"reserve some with 'echo 64 > /proc/sys/vm/nr_hugepages'") from e
        self.virt = _address_of(self.buffer)
        self._phys = []
        for off in range(0, self.size, HUGEPAGE):
            self.buffer[off] = 0            # fault the page in before asking for its frame
            self._phys.append(virt_to_phys(self.virt + off))
        for i, phys in enumerate(self._phys):
            if phys % HUGEPAGE:
                raise DmaError(f"hugepage {i} at physical {phys:#x} is not 2 MiB aligned")

    def bus(self, offset: int) -> int:
        if not 0 <= offset < self.size:
            raise ValueError(f"offset {offset:#x} outside {self.size:#x} bytes")
        return self._phys[offset // HUGEPAGE] + offset % HUGEPAGE

    def close(self) -> None:
        self.buffer.close()


def _hugepages_free() -> int:
    try:
        with open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") as f:
            return int(f.read())
    except OSError:
        return 0


def hugepages_available() -> int:
    return _hugepages_free()


# --- VFIO (linux/vfio.h) --------------------------------------------------------------------
def _io(nr: int) -> int:
    return (ord(";") << 8) | nr


VFIO_GET_API_VERSION = _io(100)
VFIO_CHECK_EXTENSION = _io(101)
VFIO_SET_IOMMU = _io(102)
VFIO_GROUP_GET_STATUS = _io(103)
VFIO_GROUP_SET_CONTAINER = _io(104)
VFIO_GROUP_GET_DEVICE_FD = _io(106)
VFIO_DEVICE_GET_REGION_INFO = _io(108)
VFIO_IOMMU_MAP_DMA = _io(113)
VFIO_IOMMU_UNMAP_DMA = _io(114)
VFIO_API_VERSION = 0
VFIO_TYPE1_IOMMU = 1
VFIO_GROUP_FLAGS_VIABLE = 1
VFIO_DMA_MAP_READ_WRITE = 3
VFIO_PCI_BAR0_REGION = 0
VFIO_PCI_CONFIG_REGION = 7

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]


def _ioctl(fd: int, request: int, arg: int | ctypes.Array | ctypes.Structure | None, what: str) -> int:
    if isinstance(arg, int) or arg is None:
        ptr = arg
    else:
        ptr = ctypes.addressof(arg)
    rc = _libc.ioctl(fd, request, ptr)
    if rc < 0:
        err = ctypes.get_errno()
        raise DmaError(f"VFIO {what} failed: {os.strerror(err)}")
    return rc


class _RegionInfo(ctypes.Structure):
    _fields_ = [("argsz", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("index", ctypes.c_uint32),
                ("cap_offset", ctypes.c_uint32), ("size", ctypes.c_uint64), ("offset", ctypes.c_uint64)]


class _DmaMap(ctypes.Structure):
    _fields_ = [("argsz", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("vaddr", ctypes.c_uint64),
                ("iova", ctypes.c_uint64), ("size", ctypes.c_uint64)]


class _DmaUnmap(ctypes.Structure):
    _fields_ = [("argsz", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("iova", ctypes.c_uint64),
                ("size", ctypes.c_uint64)]


class VfioContainer:
    """One IOMMU address space (a VFIO container) that every VFIO device of the process joins,
    as DPDK does by default: a buffer mapped once has the same IOVA for all of them, so two
    NICs can share one packet pool and forward without copying. IOVAs are handed out upwards
    from `iova_base`. The container closes when its last group leaves."""

    _shared: "VfioContainer | None" = None

    def __init__(self, dev_root: str = "/dev/vfio", iova_base: int = 0x10000000) -> None:
        self.dev_root = dev_root
        self.fd = -1
        self.groups: dict[int, int] = {}        # group number -> its open fd
        self.users: dict[int, int] = {}         # group number -> devices open in it
        self._next_iova = iova_base
        self._mappings: list[tuple[int, int]] = []
        try:
            self.fd = os.open(f"{dev_root}/vfio", os.O_RDWR)
        except PermissionError as e:
            raise DmaError(f"no permission to open {dev_root}/vfio: run as root or give this "
                           f"user the VFIO devices") from e
        except FileNotFoundError as e:
            raise DmaError(f"{dev_root}/vfio does not exist: modprobe vfio-pci") from e
        try:
            if _ioctl(self.fd, VFIO_GET_API_VERSION, None, "GET_API_VERSION") != VFIO_API_VERSION:
                raise DmaError("unknown VFIO API version")
            if not _ioctl(self.fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU, "CHECK_EXTENSION"):
                raise DmaError("the kernel's VFIO has no type-1 IOMMU support")
        except BaseException:
            os.close(self.fd)
            self.fd = -1
            raise

    @classmethod
    def shared(cls, dev_root: str = "/dev/vfio") -> "VfioContainer":
        """The process's container for `dev_root` (created on first use)."""
        current = cls._shared
        if current is None or current.fd < 0 or current.dev_root != dev_root:
            current = cls._shared = cls(dev_root)
        return current

    def join(self, group: int) -> int:
        """Add IOMMU group `group` (once) and return its fd. The first group picks the IOMMU
        type; later ones share its mappings (the type-1 driver replays them)."""
        if group in self.groups:
            self.users[group] += 1
            return self.groups[group]
        try:
            fd = os.open(f"{self.dev_root}/{group}", os.O_RDWR)
        except PermissionError as e:
            raise DmaError(f"no permission to open {self.dev_root}/{group}: run as root or give "
                           f"this user the VFIO group device") from e
        try:
            status = (ctypes.c_uint32 * 2)(8, 0)
            _ioctl(fd, VFIO_GROUP_GET_STATUS, status, "GROUP_GET_STATUS")
            if not status[1] & VFIO_GROUP_FLAGS_VIABLE:
                raise DmaError(f"IOMMU group {group} is not viable: bind every device in it to vfio-pci")
            _ioctl(fd, VFIO_GROUP_SET_CONTAINER, ctypes.c_int(self.fd), "GROUP_SET_CONTAINER")
            if not self.groups:
                _ioctl(self.fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU, "SET_IOMMU")
        except BaseException:
            os.close(fd)
            raise
        self.groups[group] = fd
        self.users[group] = 1
        return fd

    def leave(self, group: int) -> None:
        """One device of `group` is done; the group leaves with its last device, and the
        container closes with its last group (the IOMMU then forgets every mapping)."""
        if group not in self.groups:
            return
        self.users[group] -= 1
        if self.users[group] > 0:
            return
        os.close(self.groups.pop(group))
        del self.users[group]
        if not self.groups:
            os.close(self.fd)
            self.fd = -1
            self._mappings = []
            if VfioContainer._shared is self:
                VfioContainer._shared = None

    def map_dma(self, virt: int, size: int) -> int:
        """Map [virt, virt + size) for device reads and writes; returns its IOVA."""
        if not self.groups:
            raise DmaError("VFIO container has no device yet: open a device before mapping memory")
        iova = self._next_iova
        req = _DmaMap(argsz=ctypes.sizeof(_DmaMap), flags=VFIO_DMA_MAP_READ_WRITE, vaddr=virt,
                      iova=iova, size=size)
        _ioctl(self.fd, VFIO_IOMMU_MAP_DMA, req, "IOMMU_MAP_DMA")
        self._next_iova += -(-size // HUGEPAGE) * HUGEPAGE
        self._mappings.append((iova, size))
        return iova

    def unmap_dma(self, iova: int, size: int) -> None:
        if self.fd < 0 or (iova, size) not in self._mappings:
            return              # the container is gone, and its mappings with it
        req = _DmaUnmap(argsz=ctypes.sizeof(_DmaUnmap), iova=iova, size=size)
        _ioctl(self.fd, VFIO_IOMMU_UNMAP_DMA, req, "IOMMU_UNMAP_DMA")
        self._mappings.remove((iova, size))


class VfioDevice:
    """A PCI device bound to vfio-pci: its group in the process's shared container, and its
    device fd."""

    def __init__(self, address: str, group: int, dev_root: str = "/dev/vfio") -> None:
        self.address = address
        self.group_number = group
        self.container = VfioContainer.shared(dev_root)
        self.device = -1
        group_fd = self.container.join(group)
        try:
            name = ctypes.create_string_buffer(address.encode())
            self.device = _ioctl(group_fd, VFIO_GROUP_GET_DEVICE_FD, name, "GROUP_GET_DEVICE_FD")
        except BaseException:
            self.container.leave(group)
            raise

    @property
    def space(self) -> str:
        """Names the IOVA space this device's DMA addresses live in."""
        return f"vfio-container-{id(self.container):x}"

    def region(self, index: int) -> tuple[int, int]:
        """(size, file offset) of a device region (BAR0 = 0, config space = 7)."""
        info = _RegionInfo(argsz=ctypes.sizeof(_RegionInfo), index=index)
        _ioctl(self.device, VFIO_DEVICE_GET_REGION_INFO, info, "DEVICE_GET_REGION_INFO")
        return info.size, info.offset

    def map_bar0(self) -> tuple[mmap.mmap, int]:
        size, offset = self.region(VFIO_PCI_BAR0_REGION)
        bar = mmap.mmap(self.device, size, flags=mmap.MAP_SHARED,
                        prot=mmap.PROT_READ | mmap.PROT_WRITE, offset=offset)
        return bar, size

    def config_read16(self, where: int) -> int:
        _size, offset = self.region(VFIO_PCI_CONFIG_REGION)
        return int.from_bytes(os.pread(self.device, 2, offset + where), "little")

    def config_write16(self, where: int, value: int) -> None:
        _size, offset = self.region(VFIO_PCI_CONFIG_REGION)
        os.pwrite(self.device, value.to_bytes(2, "little"), offset + where)

    def map_dma(self, virt: int, size: int) -> int:
        return self.container.map_dma(virt, size)

    def unmap_dma(self, iova: int, size: int) -> None:
        self.container.unmap_dma(iova, size)

    def close(self) -> None:
        if self.device >= 0:
            os.close(self.device)
            self.device = -1
            self.container.leave(self.group_number)


class VfioMemory(DmaMemory):
    """Memory mapped into a VFIO device's IOMMU: contiguous IOVAs over the whole region."""

    def __init__(self, vfio: VfioDevice, size: int) -> None:
        self.size = -(-size // HUGEPAGE) * HUGEPAGE
        try:
            self.buffer = mmap.mmap(-1, self.size, flags=mmap.MAP_SHARED | MAP_HUGETLB)
        except OSError:
            self.buffer = mmap.mmap(-1, self.size, flags=mmap.MAP_SHARED)
        self.virt = _address_of(self.buffer)
        self.page = self.size           # the IOMMU makes the whole region contiguous
        self._container = vfio.container
        self.space = vfio.space
        self.iova = vfio.map_dma(self.virt, self.size)

    def bus(self, offset: int) -> int:
        if not 0 <= offset < self.size:
            raise ValueError(f"offset {offset:#x} outside {self.size:#x} bytes")
        return self.iova + offset

    def close(self) -> None:
        # The process mapping first: it refuses (BufferError) while a packet pool still uses
        # the memory, and then the device must keep its IOVAs too.
        self.buffer.close()
        self._container.unmap_dma(self.iova, self.size)


MemoryFactory = Callable[[int], DmaMemory]


class DmaArena:
    """Aligned pieces of DMA memory from chunks of `chunk` bytes; a piece never crosses one of
    the memory's contiguous pages."""

    def __init__(self, factory: MemoryFactory, chunk: int = HUGEPAGE) -> None:
        self.factory = factory
        self.chunk = chunk
        self.regions: list[DmaMemory] = []
        self._used = chunk

    def alloc(self, size: int, align: int = 128) -> tuple[DmaMemory, int, int]:
        """(region, virtual address, bus address) of `size` fresh zeroed bytes."""
        if size > self.chunk:
            raise DmaError(f"a DMA piece of {size} B exceeds the {self.chunk} B chunk")
        start = -(-self._used // align) * align
        if not self.regions or start + size > self.chunk:
            self.regions.append(self.factory(self.chunk))
            start = 0
        region = self.regions[-1]
        self._used = start + size
        region.buffer[start:start + size] = bytes(size)
        return region, region.virt + start, region.bus(start)

    def close(self) -> None:
        for region in self.regions:
            region.close()
        self.regions = []
        self._used = self.chunk
