// Guest-physical memory, the dirty-page bitmap, the software TLB and the
// page walk. Linear accesses hit the TLB inline; everything else is slow path.
import {
  STATE_BASE, RAM_BASE, DIRTY_BASE, TLB_TAGS, TLB_DELTA, TLB_ENTRIES,
  TLB_READ_SUPER, TLB_WRITE_SUPER, TLB_READ_USER, TLB_WRITE_USER,
  S_RAM_SIZE, S_ROM_START, S_ROM_END, S_ROM_SIZE, S_A20_MASK, S_DIRTY_ON, S_CR2, S_CR3,
  S_FAULT_LINEAR,
} from "./layout";
import { hostMmioRead, hostMmioWrite } from "./host";
import { cr0, cr4, CR0_PG, CR0_WP, CR4_PSE } from "./state";
import { raiseFault } from "./fault";

export let ramSize: u32 = 0;
export let romStart: u32 = 0;
export let romEnd: u32 = 0;
export let romAliasStart: u32 = 0; // 0 = no alias
export let a20Mask: u32 = 0xffffffff;
export let dirtyOn: bool = true;
export let pagingOn: bool = false;

// Permission bits the current privilege level uses (user when CPL 3).
export let tlbReadBit: u32 = TLB_READ_SUPER;
export let tlbWriteBit: u32 = TLB_WRITE_SUPER;

export function memorySyncIn(): void {
  ramSize = load<u32>(STATE_BASE + S_RAM_SIZE);
  romStart = load<u32>(STATE_BASE + S_ROM_START);
  romEnd = load<u32>(STATE_BASE + S_ROM_END);
  const romSize = load<u32>(STATE_BASE + S_ROM_SIZE);
  romAliasStart = romSize ? 0 - romSize : 0;
  a20Mask = load<u32>(STATE_BASE + S_A20_MASK);
  dirtyOn = load<u32>(STATE_BASE + S_DIRTY_ON) != 0;
  pagingOn = (cr0() & CR0_PG) != 0;
}

export function setUserMode(user: bool): void {
  tlbReadBit = user ? TLB_READ_USER : TLB_READ_SUPER;
  tlbWriteBit = user ? TLB_WRITE_USER : TLB_WRITE_SUPER;
  fetchPage = 1; // the cached fetch page was checked for the old privilege
}

// ---- dirty bitmap ----

@inline export function markDirtyPage(page: u32): void {
  const a = DIRTY_BASE + (page >> 3);
  store<u8>(a, <u8>(<u32>load<u8>(a) | (<u32>1 << (page & 7))));
}

@inline function pageIsDirty(page: u32): bool {
  return (load<u8>(DIRTY_BASE + (page >> 3)) & (1 << (page & 7))) != 0;
}

export function markDirtyRange(phys: u32, len: u32): void {
  if (len == 0) return;
  const last = <u32>((<u64>phys + len - 1) >> 12);
  for (let p = phys >> 12; p <= last; p++) markDirtyPage(p);
}

// ---- TLB ----

export function tlbFlushAll(): void {
  memory.fill(TLB_TAGS, 0, TLB_ENTRIES * 4);
  fetchPage = 1;
}

export function tlbFlushPage(lin: u32): void {
  const i = (lin >>> 12) & (TLB_ENTRIES - 1);
  store<u32>(TLB_TAGS + i * 4, 0);
  fetchPage = 1;
}

// Drops write permission everywhere, so the next write to each page marks it.
export function tlbDropWrites(): void {
  const mask = ~(TLB_WRITE_SUPER | TLB_WRITE_USER);
  for (let i: u32 = 0; i < TLB_ENTRIES; i++) {
    const a = TLB_TAGS + i * 4;
    store<u32>(a, load<u32>(a) & mask);
  }
}

// ---- physical access ----

// Host address of a guest-physical page if it is plain memory (RAM or ROM), else 0.
function hostPage(phys: u32): u32 {
  if (phys < ramSize) return RAM_BASE + (phys & ~0xfff);
  if (romAliasStart != 0 && phys >= romAliasStart) {
    return RAM_BASE + 0x100000 - (0 - romAliasStart) + ((phys - romAliasStart) & ~0xfff);
  }
  return 0;
}

@inline function pageWritable(phys: u32): bool {
  return phys < ramSize && (phys < romStart || phys >= romEnd);
}

export function physRead8(phys: u32): u32 {
  const h = hostPage(phys);
  if (h) return <u32>load<u8>(h + (phys & 0xfff));
  return hostMmioRead(phys, 1) & 0xff;
}

export function physWrite8(phys: u32, v: u32): void {
  if (pageWritable(phys)) {
    store<u8>(RAM_BASE + phys, <u8>v);
    markDirtyPage(phys >> 12);
  } else if (hostPage(phys) == 0) {
    hostMmioWrite(phys, 1, v & 0xff);
  }
}

// 32-bit physical access for page tables and descriptor tables (aligned or not).
export function physRead32(phys: u32): u32 {
  if ((phys & 0xfff) <= 0xffc) {
    const h = hostPage(phys);
    if (h) return load<u32>(h + (phys & 0xfff));
    return hostMmioRead(phys, 4);
  }
  return physRead8(phys) | (physRead8(phys + 1) << 8) | (physRead8(phys + 2) << 16) | (physRead8(phys + 3) << 24);
}

export function physWrite32(phys: u32, v: u32): void {
  if ((phys & 0xfff) <= 0xffc && pageWritable(phys)) {
    store<u32>(RAM_BASE + phys, v);
    markDirtyPage(phys >> 12);
    return;
  }
  if ((phys & 0xfff) <= 0xffc && hostPage(phys) == 0) {
    hostMmioWrite(phys, 4, v);
    return;
  }
  physWrite8(phys, v);
  physWrite8(phys + 1, v >> 8);
  physWrite8(phys + 2, v >> 16);
  physWrite8(phys + 3, v >> 24);
}

// ---- page walk ----

export const PF_PRESENT: u32 = 1;
export const PF_WRITE: u32 = 2;
export const PF_USER: u32 = 4;

function pageFault(lin: u32, code: u32): void {
  store<u32>(STATE_BASE + S_CR2, lin);
  store<u32>(STATE_BASE + S_FAULT_LINEAR, lin);
  raiseFault(14, <i32>code);
}

// Translates lin and fills the TLB entry. user: the access is a CPL-3 access.
// Returns the guest-physical address.
export function translate(lin: u32, write: bool, user: bool): u32 {
  const idx = (lin >>> 12) & (TLB_ENTRIES - 1);
  let phys: u32;
  let perms: u32;
  if (!pagingOn) {
    phys = lin & a20Mask;
    perms = TLB_READ_SUPER | TLB_READ_USER | TLB_WRITE_SUPER | TLB_WRITE_USER;
  } else {
    const code = (write ? PF_WRITE : 0) | (user ? PF_USER : 0);
    const pdeAddr = (load<u32>(STATE_BASE + S_CR3) & 0xfffff000) | ((lin >>> 20) & 0xffc);
    let pde = physRead32(pdeAddr);
    if (!(pde & 1)) {
      pageFault(lin, code);
      return 0;
    }
    const wp = (cr0() & CR0_WP) != 0;
    if ((pde & 0x80) && (cr4() & CR4_PSE)) {
      const userOk = (pde & 4) != 0;
      const rw = (pde & 2) != 0;
      if ((user && (!userOk || (write && !rw))) || (!user && write && wp && !rw)) {
        pageFault(lin, code | PF_PRESENT);
        return 0;
      }
      const newPde = pde | 0x20 | (write ? 0x40 : 0);
      if (newPde != pde) physWrite32(pdeAddr, newPde);
      pde = newPde;
      phys = ((pde & 0xffc00000) | (lin & 0x3ff000)) & a20Mask;
      perms = permsFor(userOk, rw, wp, (pde & 0x40) != 0);
    } else {
      const pteAddr = (pde & 0xfffff000) | ((lin >>> 10) & 0xffc);
      let pte = physRead32(pteAddr);
      if (!(pte & 1)) {
        pageFault(lin, code);
        return 0;
      }
      const userOk = (pde & pte & 4) != 0;
      const rw = (pde & pte & 2) != 0;
      if ((user && (!userOk || (write && !rw))) || (!user && write && wp && !rw)) {
        pageFault(lin, code | PF_PRESENT);
        return 0;
      }
      if (!(pde & 0x20)) physWrite32(pdeAddr, pde | 0x20);
      const newPte = pte | 0x20 | (write ? 0x40 : 0);
      if (newPte != pte) physWrite32(pteAddr, newPte);
      pte = newPte;
      phys = (pte & 0xfffff000) & a20Mask;
      perms = permsFor(userOk, rw, wp, (pte & 0x40) != 0);
    }
  }
  const page = phys & 0xfffff000;
  const h = hostPage(page);
  if (h == 0) {
    store<u32>(TLB_TAGS + idx * 4, 0); // MMIO: never cached
  } else {
    if (!pageWritable(page)) {
      perms &= TLB_READ_SUPER | TLB_READ_USER;
    } else if (dirtyOn) {
      // Write permission is granted only once the page is marked this round.
      if (write) markDirtyPage(page >> 12);
      else if (!pageIsDirty(page >> 12)) perms &= TLB_READ_SUPER | TLB_READ_USER;
    }
    store<u32>(TLB_TAGS + idx * 4, (lin & 0xfffff000) | perms);
    store<u32>(TLB_DELTA + idx * 4, h - (lin & 0xfffff000));
  }
  return phys | (lin & 0xfff);
}

// dirty: the PTE's D bit is already set, so writes need no walk.
@inline function permsFor(userOk: bool, rw: bool, wp: bool, dirty: bool): u32 {
  let p = TLB_READ_SUPER;
  if (userOk) p |= TLB_READ_USER;
  if (dirty) {
    if (rw || !wp) p |= TLB_WRITE_SUPER;
    if (userOk && rw) p |= TLB_WRITE_USER;
  }
  return p;
}

// ---- linear access (segmentation already applied) ----

@inline function tlbHost(lin: u32, bit: u32): u32 {
  const i = (lin >>> 12) & (TLB_ENTRIES - 1);
  const tag = load<u32>(TLB_TAGS + i * 4);
  if (((tag ^ lin) & 0xfffff000) == 0 && (tag & bit) != 0) return load<u32>(TLB_DELTA + i * 4) + lin;
  return 0;
}

@inline function isUser(bit: u32): bool {
  return bit == TLB_READ_USER || bit == TLB_WRITE_USER;
}

function readSlow8(lin: u32, bit: u32): u32 {
  const phys = translate(lin, false, isUser(bit));
  return physRead8(phys);
}

function writeSlow8(lin: u32, v: u32, bit: u32): void {
  const phys = translate(lin, true, isUser(bit));
  physWrite8(phys, v);
}

export function linRead8With(lin: u32, bit: u32): u32 {
  const h = tlbHost(lin, bit);
  if (h) return <u32>load<u8>(h);
  return readSlow8(lin, bit);
}

export function linRead16With(lin: u32, bit: u32): u32 {
  if ((lin & 0xfff) != 0xfff) {
    const h = tlbHost(lin, bit);
    if (h) return <u32>load<u16>(h);
    const phys = translate(lin, false, isUser(bit));
    const hp = hostPage(phys);
    if (hp) return <u32>load<u16>(hp + (phys & 0xfff));
    return hostMmioRead(phys, 2) & 0xffff;
  }
  return linRead8With(lin, bit) | (linRead8With(lin + 1, bit) << 8);
}

export function linRead32With(lin: u32, bit: u32): u32 {
  if ((lin & 0xfff) <= 0xffc) {
    const h = tlbHost(lin, bit);
    if (h) return load<u32>(h);
    const phys = translate(lin, false, isUser(bit));
    const hp = hostPage(phys);
    if (hp) return load<u32>(hp + (phys & 0xfff));
    return hostMmioRead(phys, 4);
  }
  // Crossing a page: check both pages before reading either.
  const p0 = translate(lin, false, isUser(bit));
  const p1 = translate((lin + 3) & 0xfffff000, false, isUser(bit));
  let v: u32 = 0;
  for (let i: u32 = 0; i < 4; i++) {
    const a = lin + i;
    const p = (a & 0xfff) >= (lin & 0xfff) ? p0 + i : p1 + (a & 0xfff);
    v |= physRead8(p) << (i * 8);
  }
  return v;
}

@inline export function linRead8(lin: u32): u32 {
  const h = tlbHost(lin, tlbReadBit);
  if (h) return <u32>load<u8>(h);
  return readSlow8(lin, tlbReadBit);
}
@inline export function linRead16(lin: u32): u32 {
  const i = (lin >>> 12) & (TLB_ENTRIES - 1);
  const tag = load<u32>(TLB_TAGS + i * 4);
  if (((tag ^ lin) & 0xfffff000) == 0 && (tag & tlbReadBit) != 0 && (lin & 0xfff) != 0xfff) {
    return <u32>load<u16>(load<u32>(TLB_DELTA + i * 4) + lin);
  }
  return linRead16With(lin, tlbReadBit);
}
@inline export function linRead32(lin: u32): u32 {
  const i = (lin >>> 12) & (TLB_ENTRIES - 1);
  const tag = load<u32>(TLB_TAGS + i * 4);
  if (((tag ^ lin) & 0xfffff000) == 0 && (tag & tlbReadBit) != 0 && (lin & 0xfff) <= 0xffc) {
    return load<u32>(load<u32>(TLB_DELTA + i * 4) + lin);
  }
  return linRead32With(lin, tlbReadBit);
}

// A write is split into: translate every page (faults happen here), then store.
export function linWriteWith(lin: u32, size: u32, v: u32, bit: u32): void {
  const off = lin & 0xfff;
  if (off + size <= 0x1000) {
    const h = tlbHost(lin, bit);
    if (h) {
      if (size == 1) store<u8>(h, <u8>v);
      else if (size == 2) store<u16>(h, <u16>v);
      else store<u32>(h, v);
      return;
    }
    const phys = translate(lin, true, isUser(bit));
    writePhysN(phys, size, v);
    return;
  }
  const p0 = translate(lin, true, isUser(bit));
  const p1 = translate((lin + size - 1) & 0xfffff000, true, isUser(bit));
  for (let i: u32 = 0; i < size; i++) {
    const a = lin + i;
    const p = (a & 0xfff) >= off ? p0 + i : p1 + (a & 0xfff);
    physWrite8(p, v >> (i * 8));
  }
}

function writePhysN(phys: u32, size: u32, v: u32): void {
  if (pageWritable(phys)) {
    const h = RAM_BASE + phys;
    if (size == 1) store<u8>(h, <u8>v);
    else if (size == 2) store<u16>(h, <u16>v);
    else store<u32>(h, v);
    markDirtyPage(phys >> 12);
  } else if (hostPage(phys) == 0) {
    hostMmioWrite(phys, size, size == 4 ? v : v & ((1 << (size * 8)) - 1));
  }
}

@inline export function linWrite8(lin: u32, v: u32): void {
  const h = tlbHost(lin, tlbWriteBit);
  if (h) store<u8>(h, <u8>v);
  else writeSlow8(lin, v, tlbWriteBit);
}
@inline export function linWrite16(lin: u32, v: u32): void {
  const i = (lin >>> 12) & (TLB_ENTRIES - 1);
  const tag = load<u32>(TLB_TAGS + i * 4);
  if (((tag ^ lin) & 0xfffff000) == 0 && (tag & tlbWriteBit) != 0 && (lin & 0xfff) != 0xfff) {
    store<u16>(load<u32>(TLB_DELTA + i * 4) + lin, <u16>v);
  } else linWriteWith(lin, 2, v, tlbWriteBit);
}
@inline export function linWrite32(lin: u32, v: u32): void {
  const i = (lin >>> 12) & (TLB_ENTRIES - 1);
  const tag = load<u32>(TLB_TAGS + i * 4);
  if (((tag ^ lin) & 0xfffff000) == 0 && (tag & tlbWriteBit) != 0 && (lin & 0xfff) <= 0xffc) {
    store<u32>(load<u32>(TLB_DELTA + i * 4) + lin, v);
  } else linWriteWith(lin, 4, v, tlbWriteBit);
}

// Checks that a write of size bytes at lin would succeed (for read-modify-write
// instructions and multi-part writes), faulting now if it would not.
export function linProbeWrite(lin: u32, size: u32): void {
  if (tlbHost(lin, tlbWriteBit) == 0) translate(lin, true, isUser(tlbWriteBit));
  const last = lin + size - 1;
  if ((last & 0xfffff000) != (lin & 0xfffff000) && tlbHost(last, tlbWriteBit) == 0) {
    translate(last, true, isUser(tlbWriteBit));
  }
}

export function linProbeRead(lin: u32, size: u32): void {
  if (tlbHost(lin, tlbReadBit) == 0) translate(lin, false, isUser(tlbReadBit));
  const last = lin + size - 1;
  if ((last & 0xfffff000) != (lin & 0xfffff000) && tlbHost(last, tlbReadBit) == 0) {
    translate(last, false, isUser(tlbReadBit));
  }
}

// Host address of the byte at lin, translating on a TLB miss (which may fault,
// as the access itself would); 0 when the page is not plain RAM for this access.
export function hostAddressForRead(lin: u32): u32 {
  const h = tlbHost(lin, tlbReadBit);
  if (h) return h;
  translate(lin, false, isUser(tlbReadBit));
  return tlbHost(lin, tlbReadBit);
}

export function hostAddressForWrite(lin: u32): u32 {
  const h = tlbHost(lin, tlbWriteBit);
  if (h) return h;
  translate(lin, true, isUser(tlbWriteBit));
  return tlbHost(lin, tlbWriteBit);
}

// ---- instruction fetch cache: the linear page EIP is in ----

export let fetchPage: u32 = 1; // linear page address, or 1 when invalid
export let fetchDelta: u32 = 0;

export function fetchRefill(lin: u32): void {
  const bit = tlbReadBit;
  if (tlbHost(lin, bit) == 0) translate(lin, false, isUser(bit));
  const i = (lin >>> 12) & (TLB_ENTRIES - 1);
  const tag = load<u32>(TLB_TAGS + i * 4);
  if (((tag ^ lin) & 0xfffff000) == 0 && (tag & bit) != 0) {
    fetchPage = lin & 0xfffff000;
    fetchDelta = load<u32>(TLB_DELTA + i * 4);
  } else {
    fetchPage = 1; // MMIO: fetch byte by byte
  }
}
