; Control/debug registers and privileged instructions.
%include "pm-common.inc"
main:
    EXPECT .t1
    mov eax, cr0
    and eax, ~1
    or eax, 0x80000000
    mov cr0, eax                  ; PG without PE -> #GP(0)
    PUTS "NOFAULT1 "
.t1:
    smsw ax
    and ax, ~1
    lmsw ax                       ; cannot clear PE
    smsw ax
    and eax, 1
    PUTHEX eax, 1
    PUTC ' '
    EXPECT .t2
    mov eax, 0x20
    mov cr4, eax                  ; PAE is not supported -> #GP(0)
    PUTS "NOFAULT2 "
.t2:
    mov eax, 0x18
    mov cr4, eax                  ; PSE | DE
    mov ebx, cr4
    PUTHEX ebx, 2
    PUTC ' '
    EXPECT .t3
    mov eax, dr4                  ; CR4.DE=1 -> #UD
    PUTS "NOFAULT3 "
.t3:
    xor eax, eax
    mov cr4, eax
    mov eax, 0xff
    mov dr7, eax
    mov ebx, dr5                  ; DR5 aliases DR7 when CR4.DE=0
    PUTHEX ebx, 8
    PUTC ' '
    push dword SEL_CODE0
    push dword .r
    retf
.r:
    PUTS "RETF "
    LOAD_TSS
    EXPECT .t4
    IRET_TO_RING3 .user, 0x2
.user:
    pushfd
    pop eax
    or eax, 0x200                 ; IRET at CPL 3 > IOPL 0 must not set IF
    push eax
    push cs
    push dword .user2
    iretd
.user2:
    pushfd
    pop dword [ss:user_flags]
    lgdt [ss:gdt_desc]            ; CPL 3 -> #GP(0)
    jmp $
.t4:
    mov eax, [user_flags]
    and eax, 0x200
    PUTHEX eax, 4
    NOEXPECT
    EXIT 0x08
align 4
user_flags: dd 0
