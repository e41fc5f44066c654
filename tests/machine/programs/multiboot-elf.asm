; A Multiboot kernel in ELF32 form, its headers written by hand (nasm -f bin)
; so the tests need no linker and can bend single fields through the knobs
; below. Program header 0 is the text: the file from offset 0, loaded at
; 1 MiB. Program header 1 is a data segment at DATA_PADDR: a string, then
; BSS_BYTES of bss the loader must zero-fill. The body is multiboot-report.inc.
bits 32

KERNEL_PADDR equ 0x100000
BSS_BYTES    equ 0x1800

%ifndef DATA_PADDR
  %define DATA_PADDR 0x200000
%endif
%ifndef TEXT_VIRT_OFFSET ; p_vaddr - p_paddr of the text, as a kernel linked high has
  %define TEXT_VIRT_OFFSET 0
%endif
%ifndef ELF_CLASS
  %define ELF_CLASS 1 ; ELFCLASS32
%endif
%ifndef ELF_MACHINE
  %define ELF_MACHINE 3 ; EM_386
%endif
%ifndef MB_FLAGS
  %define MB_FLAGS 0x00000003 ; page-aligned modules, memory information
%endif
%ifndef MB_CHECKSUM
  %define MB_CHECKSUM -(0x1badb002 + MB_FLAGS)
%endif
%ifndef ENTRY
  %define ENTRY (mb_entry + TEXT_VIRT_OFFSET)
%endif

section .text vstart=KERNEL_PADDR

elf_header:
    db 0x7f, "ELF", ELF_CLASS, 1, 1, 0 ; little-endian, version 1
    times 8 db 0
    dw 2                               ; e_type: ET_EXEC
    dw ELF_MACHINE
    dd 1                               ; e_version
    dd ENTRY
    dd program_headers - elf_header    ; e_phoff
    dd 0                               ; e_shoff: no sections
    dd 0                               ; e_flags
    dw 52                              ; e_ehsize
    dw 32                              ; e_phentsize
    dw 2                               ; e_phnum
    dw 0, 0, 0                         ; e_shentsize, e_shnum, e_shstrndx

multiboot_header: ; at file offset 0x34, 4-byte aligned
    dd 0x1badb002, MB_FLAGS, MB_CHECKSUM

program_headers:
    ; p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align
    dd 1, 0, KERNEL_PADDR + TEXT_VIRT_OFFSET, KERNEL_PADDR
    dd text_end - elf_header, text_end - elf_header, 5, 16 ; R+X
    dd 1, section..data.start, DATA_PADDR, DATA_PADDR
    dd data_end - data_start, data_end - data_start + BSS_BYTES, 6, 16 ; R+W

ZERO_START equ data_end
ZERO_END   equ data_end + BSS_BYTES

%include "multiboot-report.inc"

kernel_report:
    KEY "data"
    push esi
    mov esi, data_string
    call puts
    pop esi
    call newline
    ret

text_end:

section .data follows=.text align=16 vstart=DATA_PADDR
data_start:
data_string: db "second segment", 0
data_end:
