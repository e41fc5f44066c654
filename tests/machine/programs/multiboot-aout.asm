; A Multiboot kernel in flat binary form: flags bit 16 says where to load it
; (the "a.out kludge"). The header is not at the start of the file, so the
; loader has to work out the file offset from header_addr - load_addr. The
; knobs below bend single header fields. The body is multiboot-report.inc.
bits 32

LOAD_ADDR equ 0x100000
BSS_BYTES equ 0x2000

%ifndef MB_FLAGS
  %define MB_FLAGS 0x00010003 ; address fields, page-aligned modules, memory information
%endif
%ifndef MB_CHECKSUM
  %define MB_CHECKSUM -(0x1badb002 + MB_FLAGS)
%endif
%ifndef LOAD_END
  %define LOAD_END load_end
%endif
%ifndef BSS_END
  %define BSS_END bss_end
%endif
%ifndef ENTRY
  %define ENTRY mb_entry
%endif

org LOAD_ADDR

    jmp mb_entry ; the header need not come first

align 4
multiboot_header:
    dd 0x1badb002, MB_FLAGS, MB_CHECKSUM
    dd multiboot_header ; header_addr
    dd LOAD_ADDR        ; load_addr
    dd LOAD_END         ; load_end_addr
    dd BSS_END          ; bss_end_addr
    dd ENTRY            ; entry_addr
    dd 0, 0, 0, 0       ; mode_type, width, height, depth (read only with flags bit 2)

ZERO_START equ load_end
ZERO_END   equ bss_end

%include "multiboot-report.inc"

kernel_report:
    ret

load_end:
bss_end equ load_end + BSS_BYTES
