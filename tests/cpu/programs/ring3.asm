; Ring 3 via IRET, back to ring 0 through a call gate and an interrupt gate,
; stack switches from the TSS, data segments nulled on the way out.
%include "pm-common.inc"
main:
    ; TSS: ring-0 stack
    LOAD_TSS
    str bx
    PUTHEX ebx, 4
    PUTC ' '
    ; call gate 0x30: DPL 3, 32-bit, 1 parameter, to gate_target
    mov eax, gate_target
    mov [gdt + SEL_CGATE], ax
    mov word [gdt + SEL_CGATE + 2], SEL_CODE0
    mov byte [gdt + SEL_CGATE + 4], 1
    mov byte [gdt + SEL_CGATE + 5], 0xec
    shr eax, 16
    mov [gdt + SEL_CGATE + 6], ax
    SET_IDT 0x40, int40, 0xee     ; DPL 3 interrupt gate
    SET_IDT 0x41, int40, 0x8e     ; DPL 0: INT from ring 3 -> #GP
    mov [saved_esp0], esp
    EXPECT after41
    ; IRET to ring 3 with DS still the ring-0 selector: it must become null
    IRET_TO_RING3 ring3, 0x202            ; EFLAGS: IF

ring3:
    mov ax, ds
    mov [ss:r3_ds], ax            ; DS is null now
    mov ax, SEL_DATA3 | 3
    mov ds, ax
    mov es, ax
    mov ax, cs
    mov [r3_cs], ax
    push dword 0x5a5a1234         ; the parameter
    call SEL_CGATE | 3:0
    mov [r3_after_call_esp], esp
    int 0x40
    mov [r3_after_int_esp], esp
    int 0x41                      ; gate DPL 0 < CPL 3 -> #GP(0x41*8+2)
    jmp $

ring3b:
    cli                           ; IOPL 0 < CPL 3 -> #GP(0)
    jmp $

after41:
    call report
    EXPECT done
    IRET_TO_RING3 ring3b, 0x202

done:
    NOEXPECT
    mov ax, cs
    PUTHEX eax, 4
    EXIT 0x03

gate_target:
    ; stack: EIP CS PARAM ESP SS
    mov [gate_esp], esp
    mov eax, [esp + 4]
    mov [gate_cs], eax
    mov eax, [esp + 8]
    mov [gate_param], eax
    mov eax, [esp + 12]
    mov [gate_oldesp], eax
    mov eax, [esp + 16]
    mov [gate_oldss], eax
    mov ax, cs
    mov [gate_mycs], ax
    retf 4

int40:
    mov [int_esp], esp
    mov eax, [esp + 4]
    mov [int_cs], eax
    mov eax, [esp + 8]
    mov [int_fl], eax
    pushfd
    pop eax
    mov [int_myfl], eax
    iretd

report:
    PUTHEX [r3_ds], 4
    PUTC ' '
    PUTHEX [r3_cs], 4
    PUTC ' '
    PUTHEX [gate_esp], 8
    PUTC ' '
    PUTHEX [gate_mycs], 4
    PUTHEX [gate_cs], 4
    PUTC ' '
    PUTHEX [gate_param], 8
    PUTC ' '
    PUTHEX [gate_oldesp], 8
    PUTHEX [gate_oldss], 4
    PUTC ' '
    PUTHEX [r3_after_call_esp], 8
    PUTC ' '
    PUTHEX [int_esp], 8
    PUTC ' '
    PUTHEX [int_cs], 4
    PUTC ' '
    PUTHEX [int_fl], 8
    PUTHEX [int_myfl], 8
    PUTC ' '
    PUTHEX [r3_after_int_esp], 8
    PUTC ' '
    ret

align 4
saved_esp0: dd 0
r3_ds: dd 0
r3_cs: dd 0
gate_esp: dd 0
gate_cs: dd 0
gate_param: dd 0
gate_oldesp: dd 0
gate_oldss: dd 0
gate_mycs: dd 0
r3_after_call_esp: dd 0
r3_after_int_esp: dd 0
int_esp: dd 0
int_cs: dd 0
int_fl: dd 0
int_myfl: dd 0
