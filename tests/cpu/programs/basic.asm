; Enter protected mode, run 32-bit code, descriptor-table instructions.
%include "pm-common.inc"
main:
    PUTS "PM32 "
    mov ax, cs
    PUTHEX eax, 4
    PUTC ' '
    ; SGDT round trip
    sgdt [scratch]
    movzx eax, word [scratch]
    PUTHEX eax, 4
    PUTC ' '
    ; LAR / LSL / VERR / VERW
    mov ax, SEL_SMALL
    lsl ebx, ax
    PUTHEX ebx, 8
    PUTC ' '
    lar ebx, ax
    PUTHEX ebx, 8
    PUTC ' '
    mov ax, SEL_XONLY
    verr ax
    setz al
    PUTHEX eax, 1
    mov ax, SEL_DATA0
    verw ax
    setz al
    PUTHEX eax, 1
    xor eax, eax
    lsl ebx, ax         ; null: ZF=0
    setz al
    PUTHEX eax, 1
    PUTC ' '
    ; ARPL
    mov ax, 0x0010
    mov bx, 0x0003
    arpl ax, bx
    setz cl
    PUTHEX eax, 4
    PUTHEX ecx, 1
    PUTC ' '
    ; a 16-bit code segment and back
    jmp SEL_CODE16:code16
back32:
    PUTS "BACK "
    ; accessed bit of the 0x38 descriptor set by a load
    mov ax, SEL_SMALL
    mov es, ax
    mov al, [gdt + SEL_SMALL + 5]
    PUTHEX eax, 2
    ; CR0 via SMSW, MOV CR
    smsw ax
    PUTC ' '
    PUTHEX eax, 4
    EXIT 0x01
[bits 16]
code16:
    mov ax, 0x1234
    jmp dword SEL_CODE0:back32
[bits 32]
scratch: times 8 db 0
