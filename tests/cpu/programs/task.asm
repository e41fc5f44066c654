; Hardware task switches: JMP to a TSS, CALL through a task gate, IRET back (NT).
%include "pm-common.inc"

; The type bytes of both TSS descriptors (the busy bit), then a space.
%macro PUT_TSS_TYPES 0
    PUTHEX [gdt + SEL_TSS + 5], 2
    PUTHEX [gdt + SEL_TSS2 + 5], 2
    PUTC ' '
%endmacro

; CR0.TS (8 when set).
%macro PUT_CR0_TS 0
    mov eax, cr0
    and eax, 8
    PUTHEX eax, 1
%endmacro
main:
    mov ax, SEL_TSS
    ltr ax
    mov dword [tss_two + 0x20], taskb
    mov dword [tss_two + 0x24], 2
    mov dword [tss_two + 0x28], 0x11111111      ; EAX
    mov dword [tss_two + 0x38], 0x60000         ; ESP
    mov word [tss_two + 0x48], SEL_DATA0        ; ES
    mov word [tss_two + 0x4c], SEL_CODE0        ; CS
    mov word [tss_two + 0x50], SEL_DATA0        ; SS
    mov word [tss_two + 0x54], SEL_DATA0        ; DS
    mov word [tss_two + 0x58], SEL_DATA0        ; FS
    mov word [tss_two + 0x5c], SEL_DATA0        ; GS
    ; task gate 0x68 -> TSS 0x40
    mov word [gdt + SEL_TGATE + 2], SEL_TSS2
    mov byte [gdt + SEL_TGATE + 5], 0x85
    mov eax, 0xaaaa5555
    PUTS "A "
    jmp SEL_TSS2:0
    PUTS "A2 "
    PUTHEX eax, 8
    PUTC ' '
    str ax
    PUTHEX eax, 4
    PUTC ' '
    PUT_TSS_TYPES
    call SEL_TGATE:0
    PUTS "A3 "
    pushfd
    pop eax
    and eax, 0x4000
    PUTHEX eax, 4
    PUTC ' '
    PUT_TSS_TYPES
    PUT_CR0_TS
    ; a 16-bit TSS
    mov word [tss16 + 0x0e], task16             ; IP
    mov word [tss16 + 0x10], 2                  ; FLAGS
    mov word [tss16 + 0x12], 0x1616             ; AX
    mov word [tss16 + 0x1a], 0x5000             ; SP
    mov word [tss16 + 0x22], SEL_DATA0          ; ES
    mov word [tss16 + 0x24], SEL_CODE16         ; CS
    mov word [tss16 + 0x26], SEL_DATA0          ; SS
    mov word [tss16 + 0x28], SEL_DATA0          ; DS
    jmp SEL_TSS16:0
    PUTS " T16 "
    PUTHEX [t16_ax], 4
    PUTC ' '
    PUTHEX [t16_tr], 4
    PUTC ' '
    PUTHEX [t16_sp], 8
    PUTC ' '
    cmp word [tss16 + 0x0e], t16_end            ; IP saved by the switch back
    jne .badip
    PUTS "IPOK"
.badip:
    EXIT 0x05

[bits 16]
task16:
    mov [t16_ax], ax
    str word [t16_tr]
    mov [t16_sp], esp
    jmp SEL_TSS:0
t16_end:
    jmp $
[bits 32]
align 4
t16_ax: dd 0
t16_tr: dd 0
t16_sp: dd 0

taskb:
    PUTS "B "
    PUTHEX eax, 8
    PUTC ' '
    PUTHEX esp, 8               ; 8 below the TSS value: PUTHEX pushed two registers
    PUTC ' '
    str ax
    PUTHEX eax, 4
    PUTC ' '
    PUT_TSS_TYPES
    PUT_CR0_TS
    PUTC ' '
    clts
    jmp SEL_TSS:0
    PUTS "B2 "
    pushfd
    pop eax
    and eax, 0x4000
    PUTHEX eax, 4
    PUTC ' '
    PUTHEX [tss_two], 4
    PUTC ' '
    PUT_TSS_TYPES
    iretd
