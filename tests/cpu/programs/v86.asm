; Virtual-8086 mode: entry by IRETD, #GP on CLI with IOPL 0, INT n through the
; IDT to ring 0 and IRETD back with IOPL 3, IRET inside V86 mode.
%include "pm-common.inc"
V86CS equ 0x0800
%define V86(x) ((x) - $$ + BASE - V86CS * 16)
main:
    LOAD_TSS
    SET_IDT 0x42, int42, 0xee
    SET_IDT 3, int3h, 0xee        ; INT3 is not IOPL-sensitive in V86 mode
    EXPECT got_gp
    push dword 0          ; GS
    push dword 0          ; FS
    push dword 0x0700     ; DS
    push dword 0          ; ES
    push dword 0          ; SS
    push dword 0x7000     ; ESP
    push dword 0x00020002 ; EFLAGS: VM, IOPL 0
    push dword V86CS
    push dword V86(v86code)
    iretd

[bits 16]
v86code:
    mov ax, 0x1234
    mov [0x10], ax        ; linear 0x7010
    mov bx, ds
    mov [0x12], bx
    int3
v86cli:
    cli
    jmp $

v86code2:
    cli                   ; IOPL 3: allowed
    sti
    int 0x42
    mov [0x14], ax
    pushf
    push cs
    push word V86(.r)
    iret                  ; IRET within V86 mode
.r:
    mov word [0x16], 0x5678
    hlt                   ; CPL 3 -> #GP(0)
    jmp $
[bits 32]

got_gp:
    mov ebp, [frame_ptr]
    PUTHEX [ebp + 8], 4         ; EIP
    PUTC ' '
    PUTHEX [ebp + 12], 4        ; CS
    PUTC ' '
    PUTHEX [ebp + 16], 8        ; EFLAGS
    PUTC ' '
    PUTHEX [ebp + 20], 4        ; ESP
    PUTC ' '
    PUTHEX [ebp + 32], 4        ; DS
    PUTC ' '
    PUTHEX [0x7010], 4
    PUTHEX [0x7012], 4
    PUTC ' '
    mov eax, V86(v86cli)
    PUTHEX eax, 4
    PUTC ' '
    PUTHEX [int3_hit], 2
    PUTC ' '
    ; second entry with IOPL 3
    EXPECT got_gp2
    push dword 0
    push dword 0
    push dword 0x0700
    push dword 0
    push dword 0
    push dword 0x7000
    push dword 0x00023202 ; VM, IOPL 3, IF
    push dword V86CS
    push dword V86(v86code2)
    iretd

int3h:
    inc byte [ss:int3_hit]
    iretd

int42:
    mov eax, [esp + 8]
    mov [ss:int_fl], eax
    mov ax, ds
    mov [ss:int_ds], ax
    mov ax, cs
    mov [ss:int_cs], ax
    mov [ss:int_esp], esp
    mov eax, 0x4242
    iretd

got_gp2:
    PUTHEX [int_fl], 8
    PUTC ' '
    PUTHEX [int_ds], 4
    PUTHEX [int_cs], 4
    PUTC ' '
    PUTHEX [int_esp], 8
    PUTC ' '
    PUTHEX [0x7014], 4
    PUTHEX [0x7016], 4
    PUTC ' '
    NOEXPECT
    EXIT 0x06

align 4
int_fl: dd 0
int_ds: dd 0
int_cs: dd 0
int_esp: dd 0
int3_hit: dd 0
